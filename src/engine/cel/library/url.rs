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
    fn parse(s: &str) -> Result<Url, String> {
        let invalid =
            |why: &str| format!("URL parse error during conversion from string: {s:?}: {why}");
        if s.is_empty() || s.contains(|c: char| c.is_ascii_control() || c == ' ') {
            return Err(invalid("invalid characters"));
        }
        if s.contains('#') {
            return Err(invalid("fragments are not allowed"));
        }
        let (scheme, rest) = match s.split_once(':') {
            Some((scheme, rest)) if !scheme.contains('/') => (scheme, rest),
            _ => ("", s),
        };
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme.is_empty() && !valid_scheme {
            return Err(invalid("invalid scheme"));
        }
        if scheme.is_empty() && !rest.starts_with('/') {
            return Err(invalid("invalid URI for request"));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = match rest.strip_prefix("//") {
            Some(authority) => {
                let end = authority.find('/').unwrap_or(authority.len());
                let (authority, path) = authority.split_at(end);
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                (host.to_string(), path.to_string())
            }
            None if !scheme.is_empty() && !rest.starts_with('/') => {
                return Err(invalid("invalid URI for request"))
            }
            None => (String::new(), rest.to_string()),
        };
        Ok(Url {
            scheme: scheme.to_string(),
            host,
            path,
            query: query.to_string(),
        })
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
        for pair in self.query.split(['&', ';']).filter(|p| !p.is_empty()) {
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
        op!("getEscapedPath", |a| Ok(string(&arg(a)?.path))),
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
        holds("isURL('https://example.com:80/a/b?x=1') && isURL('/absolute/path') && !isURL('relative/path') && !isURL('https://a/#frag')");
        holds("url('https://user@example.com:8080/p?q=1').getScheme() == 'https' && url('https://example.com:8080/p').getHost() == 'example.com:8080'");
        holds("url('https://example.com:8080/p').getHostname() == 'example.com' && url('https://example.com:8080/p').getPort() == '8080'");
        holds("url('https://[::1]:80/').getHostname() == '::1' && url('https://[::1]/').getPort() == '' && url('https://example.com').getEscapedPath() == ''");
        holds("url('https://example.com/a%20b').getEscapedPath() == '/a%20b' && url('/p?k=a&k=b&j=').getQuery() == {'k': ['a', 'b'], 'j': ['']}");
        fails("url('not a url') == url('/')", "URL parse error");
    }
}
