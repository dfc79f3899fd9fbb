//! The checks of an endpoint's `oauth2`: a token given (from a variable, a
//! file or a command), or a Google or Microsoft service account that asks
//! for the tokens, with the fields its service needs and no other's.

use super::*;
use crate::manifest::model::{OAuth2Service, OAuth2Spec};
use crate::protocols::http::Url;
use crate::vocabulary::{ClientSecret, GoogleServiceAccount, MicrosoftApp, ServiceAccount};

/// The fields only a Google service account has.
const GOOGLE_ONLY: [&str; 2] = ["key_file", "subject"];
/// The fields only a Microsoft application has.
const MICROSOFT_ONLY: [&str; 5] = [
    "tenant",
    "client_id",
    "client_secret_env",
    "client_secret_file",
    "certificate_file",
];

impl AccountCheck<'_> {
    /// The credential of an endpoint's `oauth2`.
    pub(super) fn oauth2(&mut self, side: Side, oauth2: &OAuth2Spec) -> Option<Credential> {
        let name = side.name();
        if self.already_reported(&[name, "oauth2", "service"]) {
            return None;
        }
        let sources: Vec<&str> = [
            ("token_env", oauth2.token_env.is_some()),
            ("token_file", oauth2.token_file.is_some()),
            ("token_command", oauth2.token_command.is_some()),
            ("service", oauth2.service.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect();
        if sources.len() != 1 {
            let lacking = service_fields(oauth2).first().copied();
            let message = match lacking {
                Some(field) if sources.is_empty() => format!(
                    "{field} belongs to a service account: give service (google or microsoft) too"
                ),
                _ => "oauth2 needs exactly one of token_env, token_file, token_command and service"
                    .to_owned(),
            };
            self.error(&[name, "oauth2"], message);
            return None;
        }
        if let Some(service) = oauth2.service {
            return self.service_account(side, service, oauth2);
        }
        if let Some(field) = service_fields(oauth2).first() {
            self.error(
                &[name, "oauth2", field],
                format!("{field} belongs to a service account, not to a token given"),
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

    fn service_account(
        &mut self,
        side: Side,
        service: OAuth2Service,
        oauth2: &OAuth2Spec,
    ) -> Option<Credential> {
        let name = side.name();
        let (service_name, foreign): (&str, &[&str]) = match service {
            OAuth2Service::Google => ("google", &MICROSOFT_ONLY),
            OAuth2Service::Microsoft => ("microsoft", &GOOGLE_ONLY),
        };
        if let Some(field) = service_fields(oauth2)
            .into_iter()
            .find(|f| foreign.contains(f))
        {
            self.error(
                &[name, "oauth2", field],
                format!("{field} is not used with service: {service_name}"),
            );
            return None;
        }
        let token_url = match oauth2.token_url.as_deref().map(str::trim) {
            None => None,
            Some(url) => match Url::parse(url) {
                Ok(_) => Some(url.to_owned()),
                Err(problem) => {
                    self.error(&[name, "oauth2", "token_url"], problem);
                    return None;
                }
            },
        };
        let account = match service {
            OAuth2Service::Google => ServiceAccount::Google(GoogleServiceAccount {
                key_file: self.existing_file(side, "key_file", oauth2.key_file.as_deref())?,
                subject: match oauth2.subject.as_deref().map(str::trim) {
                    Some("") => {
                        self.error(&[name, "oauth2", "subject"], "the subject is empty");
                        return None;
                    }
                    subject => subject.map(str::to_owned),
                },
                token_url,
            }),
            OAuth2Service::Microsoft => {
                let tenant = self.required(side, "tenant", oauth2.tenant.as_deref());
                let client_id = self.required(side, "client_id", oauth2.client_id.as_deref());
                let secret = self.client_secret(side, oauth2);
                ServiceAccount::Microsoft(MicrosoftApp {
                    tenant: tenant?,
                    client_id: client_id?,
                    secret: secret?,
                    token_url,
                })
            }
        };
        Some(Credential::OAuth2(TokenSource::Service(Box::new(account))))
    }

    /// A Microsoft application's secret or certificate: exactly one.
    fn client_secret(&mut self, side: Side, oauth2: &OAuth2Spec) -> Option<ClientSecret> {
        let name = side.name();
        let given = [
            oauth2.client_secret_env.is_some(),
            oauth2.client_secret_file.is_some(),
            oauth2.certificate_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.error(
                &[name, "oauth2"],
                "a Microsoft application needs exactly one of client_secret_env, \
                 client_secret_file and certificate_file",
            );
            return None;
        }
        if let Some(var) = &oauth2.client_secret_env {
            if let Some(problem) = env_problem(var) {
                self.error(&[name, "oauth2", "client_secret_env"], problem);
                return None;
            }
            return Some(ClientSecret::Env(var.clone()));
        }
        if oauth2.client_secret_file.is_some() {
            let file = oauth2.client_secret_file.as_deref();
            return self
                .existing_file(side, "client_secret_file", file)
                .map(ClientSecret::File);
        }
        let file = oauth2.certificate_file.as_deref();
        self.existing_file(side, "certificate_file", file)
            .map(ClientSecret::Certificate)
    }

    /// A required text field of `oauth2`.
    fn required(&mut self, side: Side, field: &str, value: Option<&str>) -> Option<String> {
        match value.map(str::trim) {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            _ => {
                self.error(
                    &[side.name(), "oauth2", field],
                    format!("the service account's {field} is missing"),
                );
                None
            }
        }
    }

    /// A required file of `oauth2`, relative to the manifest, that exists.
    fn existing_file(&mut self, side: Side, field: &str, value: Option<&str>) -> Option<PathBuf> {
        let at = [side.name(), "oauth2", field];
        let file = self.required(side, field, value)?;
        let path = self.path(&at, &file);
        if let Some(problem) = file_problem(&path) {
            self.error(&at, problem);
            return None;
        }
        Some(path)
    }
}

/// The service account fields `oauth2` sets, in the order of the manifest
/// reference.
fn service_fields(oauth2: &OAuth2Spec) -> Vec<&'static str> {
    [
        ("key_file", oauth2.key_file.is_some()),
        ("subject", oauth2.subject.is_some()),
        ("tenant", oauth2.tenant.is_some()),
        ("client_id", oauth2.client_id.is_some()),
        ("client_secret_env", oauth2.client_secret_env.is_some()),
        ("client_secret_file", oauth2.client_secret_file.is_some()),
        ("certificate_file", oauth2.certificate_file.is_some()),
        ("token_url", oauth2.token_url.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(f, _)| f)
    .collect()
}
