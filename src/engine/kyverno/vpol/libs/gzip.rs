//! Kyverno's gzip library (kyverno/sdk `cel/libs/gzip`, newer than Kyverno
//! 58cd762): `gzip.compress(string)` → bytes and `gzip.decompress(bytes)` → string.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use std::io::{Read, Write};
use std::sync::Arc;

/// Most bytes `gzip.decompress` writes out, so a small compressed input
/// cannot make one evaluation allocate without bound.
const MAX_DECOMPRESSED_BYTES: u64 = 1 << 20;

/// `gzip.compress(text)`: a gzip stream with a zero modification time, as
/// Kyverno writes it so the output is deterministic.
fn compress(args: &[Value]) -> Result<Value, String> {
    let text = string_arg(args, 0)?;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.try_finish())
        .map_err(|e| e.to_string())?;
    let bytes = encoder.finish().map_err(|e| e.to_string())?;
    Ok(Value::Bytes(Arc::new(bytes)))
}

/// `gzip.decompress(bytes)`: the stream's content read as a string.
fn decompress(args: &[Value]) -> Result<Value, String> {
    let bytes = match args.first() {
        Some(Value::Bytes(b)) => b,
        other => return Err(format!("argument 0 must be bytes, got {other:?}")),
    };
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format!(
            "decompressed content is over the limit of {MAX_DECOMPRESSED_BYTES} bytes"
        ));
    }
    String::from_utf8(out)
        .map(|s| Value::String(Arc::new(s)))
        .map_err(|_| "decompressed content is not UTF-8".to_string())
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "gzip.compress", &[1], |a| {
        call("gzip.compress", a, compress)
    })?;
    declare(env, "gzip.decompress", &[1], |a| {
        call("gzip.decompress", a, decompress)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn round_trips_and_is_deterministic() {
        for source in [
            "gzip.decompress(gzip.compress('hello, world')) == 'hello, world'",
            "gzip.compress('x') == gzip.compress('x')",
        ] {
            assert_eq!(
                eval(source, None).unwrap(),
                cel::Value::Bool(true),
                "{source}"
            );
        }
        let text = cel::Value::String(std::sync::Arc::new("x".into()));
        let Ok(cel::Value::Bytes(bytes)) = super::compress(&[text]) else {
            panic!("compress gives bytes")
        };
        // The gzip magic, deflate, no flags, modification time 0.
        assert_eq!(bytes[..8], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let error = eval("gzip.decompress(b'not gzip') == ''", None).unwrap_err();
        assert!(error.contains("gzip.decompress"), "{error}");
        let error = eval("gzip.decompress('text') == ''", None).unwrap_err();
        assert!(error.contains("bytes"), "{error}");
    }
}
