//! Kubernetes' URL library: `url`, `isURL` and the getters
//! (k8s.io/apiserver/pkg/cel/library/urls.go, which parses with Go's
//! `url.ParseRequestURI`: an absolute URL or an absolute path, no fragment).

use super::{global, member, op, opaque, text};
use cel::common::types::{Type, STRING_TYPE};
use cel::objects::{Key, Map, Opaque};
use cel::{DeclarationError, Env, Value};
use std::collections::HashMap;
use std::sync::Arc;

const TYPE_NAME: &str = "kubernetes.URL";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    scheme: String,
    /// Host with its port, as written (IPv6 in brackets).
    host: String,
    path: String,
    query: String,
}

impl Opaque for Url {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

impl Url {
    /// Parses as Go's `url.ParseRequestURI` accepts (an absolute URI, an
    /// opaque `scheme:rest`, or an absolute path) and keeps what `url.Parse`
    /// keeps: the fragment is dropped, the scheme lowercased.
    fn parse(s: &str) -> Result<Url, String> {
        let invalid =
            |why: &str| format!("URL parse error during conversion from string: {s:?}: {why}");
        if s.is_empty() {
            return Err(invalid("empty url"));
        }
        if s.contains(|c: char| c.is_ascii_control()) {
            return Err(invalid("invalid control character in URL"));
        }
        let s_without_fragment = s.split_once('#').map_or(s, |(before, _)| before);
        let (scheme, rest) = match s_without_fragment.split_once(':') {
            Some((scheme, rest)) if !scheme.contains('/') => (scheme, rest),
            _ => ("", s_without_fragment),
        };
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme.is_empty() && !valid_scheme {
            return Err(invalid("first path segment in URL cannot contain colon"));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !rest.starts_with('/') {
            if scheme.is_empty() {
                return Err(invalid("invalid URI for request"));
            }
            // `scheme:opaque`: no host, no path.
            return Ok(Url {
                scheme: scheme.to_ascii_lowercase(),
                host: String::new(),
                path: String::new(),
                query: query.to_string(),
            });
        }
        let (host, path) = match rest.strip_prefix("//").filter(|_| !scheme.is_empty()) {
            Some(authority) => {
                let end = authority.find('/').unwrap_or(authority.len());
                let (authority, path) = authority.split_at(end);
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                check_host(host).map_err(|why| invalid(&why))?;
                (host.to_string(), path.to_string())
            }
            None => (String::new(), rest.to_string()),
        };
        Ok(Url {
            scheme: scheme.to_ascii_lowercase(),
            host,
            path,
            query: query.to_string(),
        })
    }

    /// The path with the characters a path may not hold unescaped escaped,
    /// as Go's `EscapedPath` (existing `%XX` escapes are kept).
    fn escaped_path(&self) -> String {
        const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'"')
            .add(b'<')
            .add(b'>')
            .add(b'`')
            .add(b'{')
            .add(b'}')
            .add(b'^')
            .add(b'|')
            .add(b'\\');
        percent_encoding::utf8_percent_encode(&self.path, PATH).to_string()
    }

    fn hostname(&self) -> &str {
        match self.host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => self
                .host
                .rsplit_once(':')
                .map_or(self.host.as_str(), |(h, _)| h),
        }
    }

    fn port(&self) -> &str {
        let after_v6 = self.host.rfind(']').map_or(0, |i| i + 1);
        self.host[after_v6..]
            .rsplit_once(':')
            .map_or("", |(_, p)| p)
    }

    fn query_map(&self) -> Value {
        let mut map: HashMap<Key, Vec<Value>> = HashMap::new();
        // As Go's `url.Query`: `&`-separated; a pair holding `;` is dropped.
        for pair in self
            .query
            .split('&')
            .filter(|p| !p.is_empty() && !p.contains(';'))
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |t: &str| {
                percent_encoding::percent_decode_str(&t.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            map.entry(Key::String(Arc::new(decode(k))))
                .or_default()
                .push(Value::String(Arc::new(decode(v))));
        }
        let map = map
            .into_iter()
            .map(|(k, v)| (k, Value::List(Arc::new(v))))
            .collect();
        Value::Map(Map { map: Arc::new(map) })
    }
}

/// A host as Go's URL parser accepts it: `name`, `name:port` or `[v6]:port`,
/// the port all digits.
fn check_host(host: &str) -> Result<(), String> {
    let port = match host.strip_prefix('[') {
        Some(v6) => {
            let (_, after) = v6.split_once(']').ok_or("missing ']' in host")?;
            match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or("invalid port after host")?),
            }
        }
        None => host.split_once(':').map(|(_, port)| port),
    };
    match port {
        Some(port) if !port.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("invalid port {port:?} after host"))
        }
        _ if host.contains(' ') => Err("invalid character \" \" in host name".to_string()),
        _ => Ok(()),
    }
}

/// Why Go's `url.ParseRequestURI` rejects `s`, worded as Go's `url.Error`
/// (`parse "s": why`); `format.uri()` reports it.
pub(super) fn request_uri_error(s: &str) -> Option<String> {
    let error = Url::parse(s).err()?;
    Some(match error.strip_prefix("URL parse error during conversion from string: ") {
        Some(rest) => format!("parse {rest}"),
        None => error,
    })
}

fn url_type() -> Type {
    Type::new_opaque_type(TYPE_NAME)
}

fn arg(args: &[Value]) -> Result<Url, String> {
    opaque::<Url>(args, 0, "URL")
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(url_type())?;
    global(
        env,
        "url",
        vec![STRING_TYPE],
        op!("url", |a| Ok(Value::Opaque(Arc::new(Url::parse(text(
            a, 0
        )?)?)))),
    )?;
    global(
        env,
        "isURL",
        vec![STRING_TYPE],
        op!("isURL", |a| Ok(Value::Bool(
            Url::parse(text(a, 0)?).is_ok()
        ))),
    )?;
    member(
        env,
        "getScheme",
        url_type(),
        vec![],
        op!("getScheme", |a| Ok(string(&arg(a)?.scheme))),
    )?;
    member(
        env,
        "getHost",
        url_type(),
        vec![],
        op!("getHost", |a| Ok(string(&arg(a)?.host))),
    )?;
    member(
        env,
        "getHostname",
        url_type(),
        vec![],
        op!("getHostname", |a| Ok(string(arg(a)?.hostname()))),
    )?;
    member(
        env,
        "getPort",
        url_type(),
        vec![],
        op!("getPort", |a| Ok(string(arg(a)?.port()))),
    )?;
    member(
        env,
        "getEscapedPath",
        url_type(),
        vec![],
        op!("getEscapedPath", |a| Ok(string(&arg(a)?.escaped_path()))),
    )?;
    member(
        env,
        "getQuery",
        url_type(),
        vec![],
        op!("getQuery", |a| Ok(arg(a)?.query_map())),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn url_library() {
        // The examples of Kubernetes' URL library documentation.
        holds("isURL('https://user:pass@example.com:80/path?query=val#fragment') && isURL('/absolute-path')");
        holds("!isURL('https://a:b:c/') && !isURL('../relative-path') && !isURL('') && isURL('mailto:a@example.com')");
        holds(
            "url('/path').getScheme() == '' && url('HTTPS://example.com/').getScheme() == 'https'",
        );
        holds("url('https://example.com:80/').getHost() == 'example.com:80' && url('https://[::1]:80/').getHost() == '[::1]:80'");
        holds("url('https://[::1]/').getHost() == '[::1]' && url('/path').getHost() == ''");
        holds("url('https://127.0.0.1:80/').getHostname() == '127.0.0.1' && url('https://[::1]:80/').getHostname() == '::1'");
        holds("url('https://example.com:80/').getPort() == '80' && url('https://example.com/').getPort() == ''");
        holds("url('https://example.com/path with spaces/').getEscapedPath() == '/path%20with%20spaces/'");
        holds("url('https://example.com').getEscapedPath() == '' && url('https://example.com/a%20b').getEscapedPath() == '/a%20b'");
        holds("url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}");
        holds("url('https://example.com/path?key with spaces=value with spaces').getQuery() == {'key with spaces': ['value with spaces']}");
        holds("url('https://example.com/path?').getQuery() == {} && url('https://example.com/p#f?x=1').getQuery() == {}");
        fails("url('../relative-path') == url('/')", "URL parse error");
        fails("url('https://a:b:c/') == url('/')", "invalid port");
    }
}
