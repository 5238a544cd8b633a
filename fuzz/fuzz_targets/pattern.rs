//! `match_pattern` and the leaf helpers never panic, on any resource/pattern pair.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use verdict::engine::kyverno::{operator, pattern, quantity, validate, wildcards};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(resource), Ok(pattern_value)) = (verdict_fuzz::value(&mut u, 0), verdict_fuzz::value(&mut u, 0))
    else {
        return;
    };
    if let Err(error) = validate::match_pattern(&resource, &pattern_value) {
        // Skips never carry a path; a path always ends with a slash.
        assert!(error.kind != validate::PatternErrorKind::Skip || error.path.is_empty());
        assert!(error.path.is_empty() || error.path.ends_with('/'), "{error:?}");
    }
    let _ = pattern::validate_value(&resource, &pattern_value);
    if let Ok(text) = u.arbitrary::<&str>() {
        let _ = quantity::Quantity::parse(text);
        let _ = quantity::parse_duration(text);
        let op = operator::Operator::from_pattern(text);
        let _ = operator::split_range(text, op);
        let _ = wildcards::matches(text, "some-name:latest");
        let _ = verdict::engine::kyverno::anchor::remove_anchors_from_path(text);
    }
});
