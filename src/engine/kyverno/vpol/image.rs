//! Kyverno's image library (kyverno/sdk `cel/libs/image`): `parseImageReference`
//! (and its deprecated alias `image`), `isImage`, and the getters `registry`,
//! `repository`, `identifier`, `tag`, `digest`, `containsDigest`, read as
//! go-containerregistry's `name.ParseReference` reads a reference: Docker Hub
//! is `index.docker.io`, its one-component repositories get `library/`, a tag
//! defaults to `latest`, a digest must be `sha256:` and 64 hex digits.
//! `identifierWithSeparator` (`@` + digest, else `:` + tag) is from a kyverno/sdk
//! branch not yet in a release (feat/add-identifier-with-separator).

use crate::engine::cel::library::{global, member, op, opaque, text};
use cel::common::types::{Type, STRING_TYPE};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, Value};
use std::sync::Arc;

const TYPE_NAME: &str = "kyverno.image";
const DEFAULT_REGISTRY: &str = "index.docker.io";

/// A parsed reference: a tag reference or a digest reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageRef {
    registry: String,
    repository: String,
    /// Set for a tag reference (`latest` when none is written).
    tag: Option<String>,
    /// Set for a digest reference.
    digest: Option<String>,
}

impl Opaque for ImageRef {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

impl ImageRef {
    /// `name.ParseReference`: a tag reference, else a digest reference.
    fn parse(reference: &str) -> Result<ImageRef, String> {
        let invalid = |why: &str| format!("could not parse reference: {reference}: {why}");
        let (base, digest) = match reference.split('@').collect::<Vec<_>>()[..] {
            [base] => (base, None),
            [base, digest] => (base, Some(digest)),
            _ => return Err(invalid("more than one @")),
        };
        if let Some(digest) = digest {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| invalid("digest must be sha256:<64 hex>"))?;
            if hex.len() != 64
                || !hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                return Err(invalid("digest must be sha256:<64 hex>"));
            }
        }
        // A tag sits after the last ':' that follows the last '/'.
        let last_slash = base.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match base[last_slash..].rfind(':') {
            Some(i) => (&base[..last_slash + i], Some(&base[last_slash + i + 1..])),
            None => (base, None),
        };
        if let Some(tag) = tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !ok {
                return Err(invalid("invalid tag"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let registry = if registry == "docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let repo_ok = (2..=255).contains(&repository.len())
            && repository.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | '/')
            });
        if !repo_ok {
            return Err(invalid("invalid repository"));
        }
        Ok(match digest {
            Some(digest) => ImageRef {
                registry,
                repository,
                tag: None,
                digest: Some(digest.to_string()),
            },
            None => ImageRef {
                registry,
                repository,
                tag: Some(tag.unwrap_or("latest").to_string()),
                digest: None,
            },
        })
    }
}

fn image_type() -> Type {
    Type::new_opaque_type(TYPE_NAME)
}

fn arg(args: &[Value]) -> Result<ImageRef, String> {
    opaque::<ImageRef>(args, 0, "kyverno.image")
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn parse(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Opaque(Arc::new(ImageRef::parse(text(args, 0)?)?)))
}

/// Registers the library on a ValidatingPolicy's environment.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(image_type())?;
    global(
        env,
        "parseImageReference",
        vec![STRING_TYPE],
        op!("parseImageReference", parse),
    )?;
    global(env, "image", vec![STRING_TYPE], op!("image", parse))?;
    global(
        env,
        "isImage",
        vec![STRING_TYPE],
        op!("isImage", |a| Ok(Value::Bool(
            ImageRef::parse(text(a, 0)?).is_ok()
        ))),
    )?;
    member(
        env,
        "registry",
        image_type(),
        vec![],
        op!("registry", |a| Ok(string(&arg(a)?.registry))),
    )?;
    member(
        env,
        "repository",
        image_type(),
        vec![],
        op!("repository", |a| Ok(string(&arg(a)?.repository))),
    )?;
    member(
        env,
        "identifier",
        image_type(),
        vec![],
        op!("identifier", |a| {
            let image = arg(a)?;
            Ok(string(
                image
                    .digest
                    .as_deref()
                    .or(image.tag.as_deref())
                    .unwrap_or(""),
            ))
        }),
    )?;
    member(
        env,
        "identifierWithSeparator",
        image_type(),
        vec![],
        op!("identifierWithSeparator", |a| {
            let image = arg(a)?;
            Ok(string(&match (&image.digest, &image.tag) {
                (Some(digest), _) => format!("@{digest}"),
                (None, Some(tag)) => format!(":{tag}"),
                (None, None) => String::new(),
            }))
        }),
    )?;
    member(
        env,
        "tag",
        image_type(),
        vec![],
        op!("tag", |a| Ok(string(arg(a)?.tag.as_deref().unwrap_or("")))),
    )?;
    member(
        env,
        "digest",
        image_type(),
        vec![],
        op!("digest", |a| Ok(string(
            arg(a)?.digest.as_deref().unwrap_or("")
        ))),
    )?;
    member(
        env,
        "containsDigest",
        image_type(),
        vec![],
        op!("containsDigest", |a| Ok(Value::Bool(
            arg(a)?.digest.is_some()
        ))),
    )
}

#[cfg(test)]
mod tests {
    use crate::engine::cel::{Activation, CelEnv};

    fn holds(source: &str) {
        let env = CelEnv::builder()
            .extension(super::register)
            .unwrap()
            .build();
        let got = env.compile(source).unwrap().eval_bool(&Activation::new());
        assert_eq!(got, Ok(true), "{source}");
    }

    #[test]
    fn references_read_as_go_containerregistry() {
        holds("parseImageReference('nginx').registry() == 'index.docker.io'");
        holds("parseImageReference('nginx').repository() == 'library/nginx'");
        holds("parseImageReference('nginx').tag() == 'latest' && parseImageReference('nginx').identifier() == 'latest'");
        holds("image('ghcr.io/org/app:1.2').registry() == 'ghcr.io' && image('ghcr.io/org/app:1.2').tag() == '1.2'");
        holds("parseImageReference('localhost:5000/app').registry() == 'localhost:5000'");
        let digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        holds(&format!("parseImageReference('app:1@{digest}').containsDigest() && parseImageReference('app:1@{digest}').tag() == ''"));
        holds(&format!(
            "parseImageReference('app@{digest}').digest() == '{digest}'"
        ));
        holds("!isImage('app@sha256:abc') && !isImage('UPPER/case') && isImage('docker.io/library/nginx:1')");
        holds("!parseImageReference('nginx:1').containsDigest()");
    }

    #[test]
    fn identifier_with_separator_prefers_the_digest() {
        // Kyverno's own examples.
        holds("parseImageReference('nginx:1.25').identifierWithSeparator() == ':1.25'");
        holds("parseImageReference('nginx').identifierWithSeparator() == ':latest'");
        let digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        holds(&format!(
            "parseImageReference('nginx@{digest}').identifierWithSeparator() == '@{digest}'"
        ));
        holds(&format!(
            "parseImageReference('nginx:1.25@{digest}').identifierWithSeparator() == '@{digest}'"
        ));
    }
}
