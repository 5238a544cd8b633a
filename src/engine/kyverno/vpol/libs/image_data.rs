//! Kyverno's image data library (kyverno/sdk `cel/libs/imagedata`):
//! `image.GetMetadata` served from the mocked context.

use super::context::current;
use super::{declare, string_arg};
use crate::engine::cel::library::call;
use crate::engine::cel::{to_cel, Numbers};
use cel::objects::Value;
use cel::{DeclarationError, Env};

/// `image.GetMetadata(ref)`: the context file's entry for exactly that image string.
fn image_metadata(args: &[Value]) -> Result<Value, String> {
    let image = string_arg(args, 0)?;
    let context = current().ok_or_else(|| {
        format!("failed to get image metadata for {image}: no context file mocks images (verdict makes no registry calls)")
    })?;
    context
        .images
        .iter()
        .find(|i| i["image"].as_str() == Some(image.as_str()))
        .map(|i| to_cel(i, Numbers::Cluster))
        .ok_or_else(|| format!("failed to get image metadata for {image}: not in the context file"))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "image.GetMetadata", &[1], |a| {
        call("image.GetMetadata", a, image_metadata)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;
    use super::super::MockContext;
    use serde_json::json;

    #[test]
    fn metadata_comes_from_the_context() {
        let context = MockContext {
            resources: vec![],
            images: vec![json!({"image": "nginx:1", "registry": "docker.io"})],
        };
        let image = "image.GetMetadata('nginx:1').registry == 'docker.io'";
        assert_eq!(eval(image, Some(context)).unwrap(), cel::Value::Bool(true));
        assert!(eval("image.GetMetadata('nginx:1') == null", None)
            .unwrap_err()
            .contains("no context file"));
    }
}
