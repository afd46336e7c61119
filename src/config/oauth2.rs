//! `[oauth2]`: where `referrald login` and the daemon get bearer tokens for `auth = "oauth2"`
//! in `[imap]` and `[smtp]`. Microsoft and Google are presets of their well-known endpoints
//! and scopes; `custom` names every endpoint.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, config_file_path, first_line};

/// How `[imap]` or `[smtp]` logs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// A password (`password-file`, `password-command` or `password`).
    #[default]
    Password,
    /// An OAuth 2.0 bearer token (SASL XOAUTH2) from `[oauth2]`, after `referrald login`.
    Oauth2,
}

/// Whose authorization server issues the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Microsoft 365 (Entra ID): `tenant` defaults to `common`.
    Microsoft,
    /// Google Workspace and Gmail.
    Google,
    /// Any other server: every URL and the scopes are given.
    Custom,
}

/// How `referrald login` gets the user's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// RFC 8628: a code typed into a browser anywhere (Microsoft's default).
    Device,
    /// RFC 8252: the browser comes back to a loopback port with an authorization code (with
    /// PKCE); Google's default, as Google refuses mail scopes in the device flow.
    Browser,
}

/// `[oauth2]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OAuth2 {
    /// `microsoft`, `google` or `custom`.
    pub provider: Provider,
    /// The application (client) ID of the app registered with the provider.
    pub client_id: String,
    /// A file whose first line is the client secret (Google's desktop and TV clients have
    /// one; Microsoft public clients do not).
    pub client_secret_file: Option<PathBuf>,
    /// Microsoft only: the directory (tenant) ID or domain; `common` if not given.
    pub tenant: Option<String>,
    /// `device` or `browser`; default `browser` for Google, else `device`.
    pub flow: Option<Flow>,
    /// The authorization endpoint, for the browser flow (custom; overrides the preset
    /// otherwise).
    pub authorization_url: Option<String>,
    /// The token endpoint (custom; overrides the preset otherwise).
    pub token_url: Option<String>,
    /// The device authorization endpoint (custom; overrides the preset otherwise).
    pub device_url: Option<String>,
    /// The scopes to ask for (custom; overrides the preset otherwise).
    pub scopes: Option<Vec<String>>,
    /// A PEM file of CA certificates trusted for the endpoints besides Mozilla's roots (a
    /// custom server with a private CA).
    pub ca_file: Option<PathBuf>,
}

/// Microsoft's scopes for IMAP and SMTP, and `offline_access` for a refresh token.
pub const MICROSOFT_SCOPES: &[&str] = &[
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
];
/// Google's one scope for IMAP and SMTP.
pub const GOOGLE_SCOPES: &[&str] = &["https://mail.google.com/"];

/// Where tokens come from, with the presets filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// How `login` asks for consent.
    pub flow: Flow,
    /// The authorization endpoint (browser flow); empty when a custom server has none.
    pub authorization_url: String,
    /// RFC 8628 device authorization endpoint.
    pub device_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Scopes, in the order given.
    pub scopes: Vec<String>,
}

impl OAuth2 {
    /// The endpoints and scopes: the provider's presets unless the file overrides them.
    pub fn endpoints(&self) -> Endpoints {
        let (authorize, device, token, scopes) = match self.provider {
            Provider::Microsoft => {
                let tenant = self.tenant.as_deref().unwrap_or("common");
                let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
                (
                    format!("{base}/authorize"),
                    format!("{base}/devicecode"),
                    format!("{base}/token"),
                    MICROSOFT_SCOPES,
                )
            }
            Provider::Google => (
                "https://accounts.google.com/o/oauth2/v2/auth".to_string(),
                "https://oauth2.googleapis.com/device/code".to_string(),
                "https://oauth2.googleapis.com/token".to_string(),
                GOOGLE_SCOPES,
            ),
            Provider::Custom => (String::new(), String::new(), String::new(), &[][..]),
        };
        let flow = self.flow.unwrap_or(match self.provider {
            Provider::Google => Flow::Browser,
            Provider::Microsoft | Provider::Custom => Flow::Device,
        });
        Endpoints {
            flow,
            authorization_url: self.authorization_url.clone().unwrap_or(authorize),
            device_url: self.device_url.clone().unwrap_or(device),
            token_url: self.token_url.clone().unwrap_or(token),
            scopes: self
                .scopes
                .clone()
                .unwrap_or_else(|| scopes.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Reads the client secret, if the configuration names a file for it.
    pub fn client_secret(&self, base_dir: &Path) -> Result<Option<String>, ConfigError> {
        let Some(file) = &self.client_secret_file else {
            return Ok(None);
        };
        let path = config_file_path("[oauth2] client-secret-file", file, base_dir)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError(format!(
                "cannot read [oauth2] client-secret-file {}: {e}",
                path.display()
            ))
        })?;
        Ok(Some(first_line(&text)))
    }

    /// `ca-file`, resolved like other paths (`%d/` too).
    pub fn ca_path(&self, base_dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
        self.ca_file
            .as_deref()
            .map(|file| config_file_path("[oauth2] ca-file", file, base_dir))
            .transpose()
    }

    /// What serde cannot check: a client ID, and for `custom` every endpoint and a scope;
    /// every URL HTTPS (plain HTTP only to a loopback address, for tests).
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.client_id.trim().is_empty() {
            return Err(ConfigError(
                "[oauth2] client-id must not be empty: paste the application (client) ID of the app you registered".into(),
            ));
        }
        if self.provider == Provider::Custom {
            let login_url = match self.endpoints().flow {
                Flow::Device => ("device-url", &self.device_url),
                Flow::Browser => ("authorization-url", &self.authorization_url),
            };
            for (key, value) in [("token-url", &self.token_url), login_url] {
                if value.is_none() {
                    return Err(ConfigError(format!(
                        "[oauth2] provider = \"custom\" needs {key}"
                    )));
                }
            }
            if self.scopes.as_ref().is_none_or(Vec::is_empty) {
                return Err(ConfigError(
                    "[oauth2] provider = \"custom\" needs scopes, e.g. scopes = [\"email\", \"offline_access\"]"
                        .into(),
                ));
            }
        }
        if self.tenant.is_some() && self.provider != Provider::Microsoft {
            return Err(ConfigError(
                "[oauth2] tenant is for provider = \"microsoft\" only".into(),
            ));
        }
        if let Some(tenant) = &self.tenant
            && (tenant.is_empty()
                || !tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')))
        {
            return Err(ConfigError(format!(
                "[oauth2] tenant {tenant:?} is not a tenant ID or domain (like \"contoso.onmicrosoft.com\" or \"common\")"
            )));
        }
        let endpoints = self.endpoints();
        for (key, url) in [
            ("authorization-url", &endpoints.authorization_url),
            ("token-url", &endpoints.token_url),
            ("device-url", &endpoints.device_url),
        ] {
            if !url.is_empty() {
                check_url(key, url)?;
            }
        }
        if let Some(scope) = endpoints
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(ConfigError(format!(
                "[oauth2] scopes: {scope:?} is not one scope (write each as its own string)"
            )));
        }
        Ok(())
    }
}

/// An endpoint must be HTTPS: tokens and the client secret cross it. Plain HTTP is allowed
/// to a loopback address only, where nothing crosses a network.
fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError(format!("[oauth2] {key} {url:?} {why}"));
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("has no host"));
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or("");
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        };
        if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Ok(());
        }
        return Err(bad(
            "must start with https:// (plain http is allowed to 127.0.0.1 only)",
        ));
    }
    Err(bad("is not an https:// URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth2(text: &str) -> Result<OAuth2, ConfigError> {
        let section: OAuth2 =
            toml::from_str(text).map_err(|e| ConfigError(e.message().to_string()))?;
        section.check().map(|()| section)
    }

    #[test]
    fn presets_fill_in_the_well_known_endpoints_and_scopes() {
        let ms = oauth2("provider = \"microsoft\"\nclient-id = \"abc\"\n").unwrap();
        let e = ms.endpoints();
        assert_eq!(
            e.device_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
        );
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(e.scopes, MICROSOFT_SCOPES);

        let ms = oauth2(
            "provider = \"microsoft\"\nclient-id = \"abc\"\ntenant = \"contoso.onmicrosoft.com\"\n",
        )
        .unwrap();
        assert!(
            ms.endpoints()
                .device_url
                .contains("/contoso.onmicrosoft.com/")
        );

        let g = oauth2("provider = \"google\"\nclient-id = \"abc\"\n").unwrap();
        let e = g.endpoints();
        assert_eq!(e.device_url, "https://oauth2.googleapis.com/device/code");
        assert_eq!(e.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(e.scopes, GOOGLE_SCOPES);
        // Google refuses mail scopes in the device flow: its users sign in in a browser.
        assert_eq!(e.flow, Flow::Browser);
        assert_eq!(
            e.authorization_url,
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        let g = oauth2("provider = \"google\"\nclient-id = \"abc\"\nflow = \"device\"\n").unwrap();
        assert_eq!(g.endpoints().flow, Flow::Device);
    }

    #[test]
    fn custom_needs_every_endpoint_and_a_scope() {
        let err = oauth2("provider = \"custom\"\nclient-id = \"abc\"\n").unwrap_err();
        assert!(err.0.contains("token-url"), "{err}");
        let err = oauth2(
            "provider = \"custom\"\nclient-id = \"abc\"\ntoken-url = \"https://a/t\"\ndevice-url = \"https://a/d\"\n",
        )
        .unwrap_err();
        assert!(err.0.contains("scopes"), "{err}");
        let ok = oauth2(
            "provider = \"custom\"\nclient-id = \"abc\"\ntoken-url = \"http://127.0.0.1:8080/t\"\ndevice-url = \"https://a.example/d\"\nscopes = [\"mail\"]\n",
        )
        .unwrap();
        assert_eq!(ok.endpoints().token_url, "http://127.0.0.1:8080/t");
        let err = oauth2(
            "provider = \"custom\"\nclient-id = \"abc\"\nflow = \"browser\"\ntoken-url = \"https://a/t\"\nscopes = [\"mail\"]\n",
        )
        .unwrap_err();
        assert!(err.0.contains("authorization-url"), "{err}");
    }

    #[test]
    fn tokens_never_cross_a_network_in_clear() {
        for url in [
            "http://login.example.com/token",
            "http://127.0.0.1.evil.example/token",
            "ftp://a/b",
            "https:///x",
        ] {
            let text = format!(
                "provider = \"custom\"\nclient-id = \"abc\"\ntoken-url = \"{url}\"\ndevice-url = \"https://a/d\"\nscopes = [\"mail\"]\n"
            );
            let err = oauth2(&text).unwrap_err();
            assert!(err.0.contains("token-url"), "{url}: {err}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let err = oauth2("provider = \"google\"\nclient-id = \" \"\n").unwrap_err();
        assert!(err.0.contains("client-id"), "{err}");
        let err = oauth2("provider = \"google\"\nclient-id = \"a\"\ntenant = \"x\"\n").unwrap_err();
        assert!(err.0.contains("tenant"), "{err}");
        let err =
            oauth2("provider = \"microsoft\"\nclient-id = \"a\"\ntenant = \"a/b\"\n").unwrap_err();
        assert!(err.0.contains("tenant"), "{err}");
        let err =
            oauth2("provider = \"google\"\nclient-id = \"a\"\nscopes = [\"a b\"]\n").unwrap_err();
        assert!(err.0.contains("scopes"), "{err}");
        assert!(oauth2("provider = \"yahoo\"\nclient-id = \"a\"\n").is_err());
    }
}
