//! Variable substitution never panics, whatever the document and context.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use verdict::engine::kyverno::variables::substitute_all;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(document), Ok(context)) = (verdict_fuzz::value(&mut u, 0), verdict_fuzz::value(&mut u, 0))
    else {
        return;
    };
    let _ = substitute_all(&document, &context);
});
