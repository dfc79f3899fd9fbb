//! The checks of one endpoint: server, identity, credential, groupware
//! services.

use super::*;

impl AccountCheck<'_> {
    /// Checks one end of the account and plans it.
    pub(super) fn endpoint(&mut self, side: Side, spec: Option<&EndpointSpec>) -> Option<Resolved> {
        let name = side.name();
        let Some(spec) = spec else {
            self.error(&[name], format!("the {name} is missing"));
            return None;
        };
        let field = |f: &'static str| [name, f];
        let kind = spec
            .kind
            .unwrap_or_else(|| spec.path.as_deref().map_or(Kind::Imap, Kind::of_path));
        let mut ok = true;
        // Without a host, the server is found later (`plan::autodetect`):
        // asked for with `kind: autodetect`, or an IMAP endpoint left
        // without a host (a spreadsheet's empty column).
        let no_host = spec.host.as_deref().is_none_or(|h| h.trim().is_empty());
        let detect_later = no_host && matches!(kind, Kind::Autodetect | Kind::Imap);
        let undetectable = side == Side::Source && self.source_undetectable;
        if detect_later
            && kind == Kind::Imap
            && !undetectable
            && !self.already_reported(&field("host"))
        {
            let address = spec.email.as_deref().or(spec.user.as_deref());
            let domain = address
                .and_then(|a| a.rsplit_once('@'))
                .map(|(_, d)| d.trim().to_lowercase())
                .unwrap_or_default();
            self.detect_later.push(DetectLater {
                side: name,
                domain,
                place: self.place(&field("host")),
            });
        }
        ok &= self.kind_fits(side, kind);
        let endpoint_kind = match kind {
            Kind::Imap | Kind::Autodetect => EndpointKind::Imap,
            Kind::Pop3 => EndpointKind::Pop3,
            Kind::Pst => EndpointKind::Pst,
            Kind::Ics => EndpointKind::Ics,
            Kind::Vcf => EndpointKind::Vcf,
            Kind::Groupware => EndpointKind::Groupware,
        };

        let server = if detect_later {
            None
        } else if kind.is_file() {
            self.no_server_for_files(side, spec, kind);
            None
        } else {
            self.server(side, spec, kind)
        };
        if !kind.is_file() && server.is_none() && !detect_later {
            ok = false;
        }

        let path = self.file_path(side, spec, kind);
        ok &= path.is_some() || !kind.is_file();

        let (email, user) = self.identity(side, spec, kind);
        ok &= email.is_some();
        let credential = if kind.is_file() {
            if spec.has_credential() {
                self.warn(
                    &[name],
                    format!("{} needs no credentials; ignored", file_noun(kind)),
                );
            }
            Some(Credential::None)
        } else {
            self.credential(side, spec)
        };
        ok &= credential.is_some();

        let (dav_url, sieve) = self.groupware(side, spec, kind, server.as_ref());
        ok &= dav_url.is_ok();
        let endpoint = Endpoint {
            kind: endpoint_kind,
            email: email.unwrap_or_default(),
            user,
            server,
            path,
            credential: credential.unwrap_or_default(),
            dav_url: dav_url.unwrap_or_default(),
            sieve,
        };
        ok.then_some(Resolved { endpoint, kind })
    }

    /// Whether `kind` may be this end: POP3 and files are sources only.
    fn kind_fits(&mut self, side: Side, kind: Kind) -> bool {
        let field = [side.name(), "kind"];
        match (kind, side) {
            (Kind::Pop3, Side::Destination) => {
                self.error(
                    &field,
                    "POP3 can only be a source: a POP3 server cannot receive migrated mail",
                );
                false
            }
            (file, Side::Destination) if file.is_file() => {
                self.error(&field, format!("{} can only be a source", file_noun(file)));
                false
            }
            _ => true,
        }
    }

    /// A file source has no server: warns of each server setting given.
    fn no_server_for_files(&mut self, side: Side, spec: &EndpointSpec, kind: Kind) {
        for (f, set) in [
            ("host", spec.host.is_some()),
            ("port", spec.port.is_some()),
            ("tls", spec.tls.is_some()),
        ] {
            if set {
                self.warn(
                    &[side.name(), f],
                    format!("{f} is not used by {}; ignored", file_noun(kind)),
                );
            }
        }
    }

    /// The file a file source reads (`None`, with an error, when it is
    /// missing or unreadable); `None` for a server.
    fn file_path(&mut self, side: Side, spec: &EndpointSpec, kind: Kind) -> Option<PathBuf> {
        let name = side.name();
        match (&spec.path, kind.is_file()) {
            (Some(p), true) => {
                let resolved = self.path(&[name, "path"], p);
                if let Some(problem) = file_problem(&resolved) {
                    self.error(&[name, "path"], problem);
                    return None;
                }
                Some(resolved)
            }
            (None, true) => {
                self.error(
                    &[name, "path"],
                    format!("the {name} is {} but its path is missing", file_noun(kind)),
                );
                None
            }
            (Some(_), _) => {
                self.warn(
                    &[name, "path"],
                    "path is only used by file sources (pst, ics, vcf); ignored",
                );
                None
            }
            (None, _) => None,
        }
    }

    pub(super) fn server(&mut self, side: Side, spec: &EndpointSpec, kind: Kind) -> Option<Server> {
        let name = side.name();
        let host = match &spec.host {
            None => {
                self.error(&[name, "host"], format!("the {name} host is missing"));
                return None;
            }
            Some(host) => {
                let host = host.trim();
                if let Some(problem) = host_problem(host) {
                    self.error(&[name, "host"], format!("{}: {problem}", quote(host)));
                    return None;
                }
                host.to_owned()
            }
        };
        let tls = spec.tls.unwrap_or(TlsMode::Implicit);
        let port = spec.port.unwrap_or_else(|| default_port(kind, tls));
        if port == 0 {
            self.error(&[name, "port"], "0 is not a port number (1–65535)");
            return None;
        }
        Some(Server {
            host,
            port,
            tls,
            accept_invalid_certs: spec.accept_invalid_certs.unwrap_or(false),
        })
    }

    /// The address and login of an endpoint.
    pub(super) fn identity(
        &mut self,
        side: Side,
        spec: &EndpointSpec,
        kind: Kind,
    ) -> (Option<String>, String) {
        let name = side.name();
        let user = spec
            .user
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let email = match spec.email.as_deref().map(str::trim) {
            Some(email) if is_email(email) => Some(email.to_owned()),
            Some(email) => {
                self.error(
                    &[name, "email"],
                    format!("{} is not an email address", quote(email)),
                );
                None
            }
            None => match user {
                Some(u) if is_email(u) => Some(u.to_owned()),
                // A file needs no address; the destination's is used.
                _ if kind.is_file() => Some(String::new()),
                Some(_) => {
                    self.error(
                        &[name, "email"],
                        format!("the {name} email is missing (the user is not an email address)"),
                    );
                    None
                }
                None => {
                    self.error(&[name, "email"], format!("the {name} email is missing"));
                    None
                }
            },
        };
        let user = user
            .map(str::to_owned)
            .or_else(|| email.clone())
            .unwrap_or_default();
        (email, user)
    }

    pub(super) fn credential(&mut self, side: Side, spec: &EndpointSpec) -> Option<Credential> {
        let name = side.name();
        let fields = [
            "password",
            "password_env",
            "password_file",
            "oauth2",
            "admin",
        ];
        if fields.iter().any(|f| self.already_reported(&[name, f])) {
            return None;
        }
        let given: Vec<&str> = [
            ("password", spec.password.is_some()),
            ("password_env", spec.password_env.is_some()),
            ("password_file", spec.password_file.is_some()),
            ("oauth2", spec.oauth2.is_some()),
            ("admin", spec.admin.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect();
        match given.as_slice() {
            [] => {
                // The account lacks it, not the defaults: said at its row
                // (and its empty password cell, if the file has a column).
                let field: &[&str] = match self.entry.origin {
                    Origin::Row { .. } => &[name, "password"],
                    Origin::Yaml { .. } => &[name],
                };
                let d = Diagnostic::error(
                    self.entry.origin.place(field),
                    format!("the {name} has no credentials: give password_env, password_file, password, oauth2 or admin"),
                )
                .for_account(Some(self.index));
                self.found.push(d);
                return None;
            }
            [_] => {}
            [_, second, ..] => {
                self.error(
                    &[name, second],
                    format!(
                        "give only one of password, password_env, password_file, oauth2 and admin (this {name} has {})",
                        given.join(" and ")
                    ),
                );
                return None;
            }
        }
        if let Some(admin) = &spec.admin {
            return self.admin(side, admin);
        }
        if spec.oauth2.is_none() {
            let forms = (&spec.password, &spec.password_env, &spec.password_file);
            return self.password(&[name], forms);
        }
        let oauth2 = spec.oauth2.as_ref()?;
        let sources: Vec<&str> = [
            ("token_env", oauth2.token_env.is_some()),
            ("token_file", oauth2.token_file.is_some()),
            ("token_command", oauth2.token_command.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect();
        if sources.len() != 1 {
            self.error(
                &[name, "oauth2"],
                "oauth2 needs exactly one of token_env, token_file and token_command",
            );
            return None;
        }
        if let Some(var) = &oauth2.token_env {
            if let Some(problem) = env_problem(var) {
                self.error(&[name, "oauth2", "token_env"], problem);
                return None;
            }
            return Some(Credential::OAuth2(TokenSource::Env(var.clone())));
        }
        if let Some(file) = &oauth2.token_file {
            let path = self.path(&[name, "oauth2", "token_file"], file);
            if let Some(problem) = file_problem(&path) {
                self.error(&[name, "oauth2", "token_file"], problem);
                return None;
            }
            return Some(Credential::OAuth2(TokenSource::File(path)));
        }
        match oauth2.token_command.as_deref().map(str::trim) {
            Some(command) if !command.is_empty() => {
                Some(Credential::OAuth2(TokenSource::Command(command.to_owned())))
            }
            _ => {
                self.error(
                    &[name, "oauth2", "token_command"],
                    "the token command is empty",
                );
                None
            }
        }
    }

    /// A password in one of its forms (`password`, `password_env`,
    /// `password_file`; one is given), the fields under `at`.
    fn password(
        &mut self,
        at: &[&str],
        (password, env, file): (&Option<Secret>, &Option<String>, &Option<String>),
    ) -> Option<Credential> {
        let field = |f: &'static str| [at, &[f]].concat();
        if let Some(password) = password {
            if password.expose().is_empty() {
                self.error(&field("password"), "the password is empty");
                return None;
            }
            return Some(Credential::Password(password.expose().to_owned()));
        }
        if let Some(var) = env {
            if let Some(problem) = env_problem(var) {
                self.error(&field("password_env"), problem);
                return None;
            }
            return Some(Credential::PasswordEnv(var.clone()));
        }
        let file = file.as_ref()?;
        let path = self.path(&field("password_file"), file);
        if let Some(problem) = file_problem(&path) {
            self.error(&field("password_file"), problem);
            return None;
        }
        Some(Credential::PasswordFile(path))
    }

    /// An administrator's login for the endpoint's mailboxes.
    fn admin(&mut self, side: Side, admin: &AdminSpec) -> Option<Credential> {
        let name = side.name();
        let at = [name, "admin"];
        let user = admin.user.as_deref().map(str::trim).unwrap_or_default();
        if user.is_empty() {
            self.error(
                &[name, "admin", "user"],
                "the administrator's user is missing",
            );
            return None;
        }
        let forms = [
            ("password", admin.password.is_some()),
            ("password_env", admin.password_env.is_some()),
            ("password_file", admin.password_file.is_some()),
        ];
        let given: Vec<&str> = forms
            .iter()
            .filter(|(_, set)| *set)
            .map(|(f, _)| *f)
            .collect();
        if given.len() != 1 {
            self.error(
                &at,
                "the administrator needs exactly one of password, password_env and password_file",
            );
            return None;
        }
        let style = match (admin.style, &admin.separator) {
            (Some(AdminStyleSpec::Separator), separator) => {
                let separator = separator.clone().unwrap_or_else(|| "*".to_owned());
                if separator.is_empty() {
                    self.error(&[name, "admin", "separator"], "the separator is empty");
                    return None;
                }
                AdminStyle::Separator(separator)
            }
            (_, Some(_)) => {
                self.error(
                    &[name, "admin", "separator"],
                    "a separator is only used with style: separator",
                );
                return None;
            }
            (_, None) => AdminStyle::Authzid,
        };
        let forms = (&admin.password, &admin.password_env, &admin.password_file);
        let password = self.password(&at, forms)?;
        Some(Credential::Admin(Box::new(AdminLogin {
            user: user.to_owned(),
            password,
            style,
        })))
    }

    /// The DAV URL (`Err` when invalid) and ManageSieve server of a
    /// groupware endpoint.
    pub(super) fn groupware(
        &mut self,
        side: Side,
        spec: &EndpointSpec,
        kind: Kind,
        server: Option<&Server>,
    ) -> (Result<Option<String>, ()>, Option<Server>) {
        let name = side.name();
        if kind != Kind::Groupware {
            if spec.dav_url.is_some() {
                self.warn(
                    &[name, "dav_url"],
                    "dav_url is only used by groupware endpoints; ignored",
                );
            }
            if spec.sieve.is_some() {
                self.warn(
                    &[name, "sieve"],
                    "sieve is only used by groupware endpoints; ignored",
                );
            }
            return (Ok(None), None);
        }
        let dav = match spec.dav_url.as_deref().map(str::trim) {
            None => Ok(None),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(Some(url.to_owned()))
            }
            Some(url) => {
                self.error(
                    &[name, "dav_url"],
                    format!("{} is not an http:// or https:// URL", quote(url)),
                );
                Err(())
            }
        };
        let sieve_spec = spec.sieve.clone().unwrap_or_default();
        let sieve = server.map(|s| Server {
            host: sieve_spec.host.clone().unwrap_or_else(|| s.host.clone()),
            port: sieve_spec.port.unwrap_or(SIEVE_PORT),
            tls: sieve_spec.tls.unwrap_or(TlsMode::StartTls),
            accept_invalid_certs: s.accept_invalid_certs,
        });
        if let Some(host) = &sieve_spec.host
            && let Some(problem) = host_problem(host)
        {
            self.error(
                &[name, "sieve", "host"],
                format!("{}: {problem}", quote(host)),
            );
        }
        (dav, sieve)
    }
}
