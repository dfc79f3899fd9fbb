//! The notification server of an `smtp:` section.

use super::*;

impl SmtpConfig {
    /// The notification server of an `smtp:` section, checked: a
    /// manifest's, or the daemon configuration's. `file` is the file the
    /// section is written in (a `password_file` is relative to its folder),
    /// `place` names where a field is written, and problems go to
    /// `diagnostics`.
    pub fn from_spec(
        spec: &SmtpSpec,
        file: &Path,
        place: &dyn Fn(&[&str]) -> Place,
        diagnostics: &mut Diagnostics,
    ) -> SmtpConfig {
        smtp_config(spec, file, place, diagnostics)
    }
}

/// The notification server, checked.
pub(super) fn smtp_config(
    spec: &SmtpSpec,
    manifest: &std::path::Path,
    place: &dyn Fn(&[&str]) -> Place,
    diagnostics: &mut Diagnostics,
) -> SmtpConfig {
    if !is_email(
        spec.from
            .trim_end_matches('>')
            .rsplit('<')
            .next()
            .unwrap_or_default(),
    ) {
        diagnostics.push(Diagnostic::error(
            place(&["smtp", "from"]),
            format!("{} is not an email address", quote(&spec.from)),
        ));
    }
    let given = [
        spec.password.is_some(),
        spec.password_env.is_some(),
        spec.password_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        diagnostics.push(Diagnostic::error(
            place(&["smtp"]),
            "give only one of password, password_env and password_file",
        ));
    }
    if spec.user.is_none() && given.iter().any(|g| *g) {
        diagnostics.push(Diagnostic::error(
            place(&["smtp", "user"]),
            "a password needs a user",
        ));
    }
    let credential = if let Some(password) = &spec.password {
        Credential::Password(password.expose().to_owned())
    } else if let Some(var) = &spec.password_env {
        if std::env::var_os(var).is_none() {
            diagnostics.push(Diagnostic::error(
                place(&["smtp", "password_env"]),
                format!("the environment variable {var} is not set"),
            ));
        }
        Credential::PasswordEnv(var.clone())
    } else if let Some(file) = &spec.password_file {
        let base = manifest.parent().unwrap_or(std::path::Path::new("."));
        Credential::PasswordFile(base.join(file))
    } else {
        Credential::None
    };
    let tls = spec.tls.unwrap_or(TlsMode::StartTls);
    SmtpConfig {
        server: Server {
            host: spec.host.clone(),
            port: spec.port.unwrap_or(match tls {
                TlsMode::Implicit => 465,
                TlsMode::StartTls => 587,
                TlsMode::None => 25,
            }),
            tls,
            accept_invalid_certs: spec.accept_invalid_certs.unwrap_or(false),
        },
        from: spec.from.clone(),
        user: spec.user.clone(),
        credential,
    }
}
