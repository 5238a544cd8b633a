//! Input loading under strict limits, and Kubernetes schema validation of
//! fixture manifests. Fixtures live in tests/fixtures/input/; inputs too big
//! to commit are generated into a temporary directory.

use std::fs;
use std::path::{Path, PathBuf};
use verdict::error::LoadError;
use verdict::input::schema::{check_manifest, embedded_kinds, kubernetes_version, validate_manifest, SchemaCheck};
use verdict::input::{load_file, load_str, Input, InputKind};
use verdict::limits::Limits;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/input").join(name)
}

fn load(name: &str) -> Vec<Input> {
    let path = fixture(name);
    load_file(&path, &Limits::default()).unwrap_or_else(|e| panic!("{name} should load: {e}"))
}

fn load_err(path: &Path, limits: &Limits) -> LoadError {
    match load_file(path, limits) {
        Ok(inputs) => panic!("{} should not load, got {} inputs", path.display(), inputs.len()),
        Err(e) => {
            assert_eq!(e.path, path, "the error names the file");
            e
        }
    }
}

fn resources(inputs: &[Input]) -> Vec<&str> {
    inputs.iter().map(|i| i.resource.as_str()).collect()
}

// ---- loading -------------------------------------------------------------

#[test]
fn multi_document_yaml_skips_empty_documents_and_records_start_lines() {
    let inputs = load("multi-doc.yaml");
    assert_eq!(resources(&inputs), ["ConfigMap/settings", "Service/shop/web", "Namespace/shop"]);
    assert_eq!(inputs.iter().map(|i| i.line).collect::<Vec<_>>(), [Some(2), Some(12), Some(25)]);
    assert_eq!(inputs.iter().map(|i| i.index).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(inputs[1].id.ends_with("multi-doc.yaml#1"), "{}", inputs[1].id);
    assert_eq!(inputs[1].value["spec"]["ports"][0]["targetPort"], "http");
    assert!(inputs.iter().all(|i| i.kind == InputKind::Manifest));
}

#[test]
fn lists_are_flattened_into_their_items() {
    let inputs = load("list.yaml");
    assert_eq!(resources(&inputs), ["ConfigMap/first", "ConfigMap/second", "Pod/default/third"]);
    assert_eq!(inputs.iter().map(|i| i.index).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(inputs[2].line, Some(15), "items share the line of their list");
}

#[test]
fn json_is_read_by_extension_and_by_content() {
    let deployment = load("deployment.json");
    assert_eq!(resources(&deployment), ["Deployment/prod/api"]);
    assert_eq!(deployment[0].line, Some(1));
    assert_eq!(deployment[0].value["spec"]["replicas"], 2);

    let no_extension = load("kubectl-get-output");
    assert_eq!(resources(&no_extension), ["ServiceAccount/ci/builder"]);
    assert_eq!(no_extension[0].line, Some(2));

    // YAML flow style also starts with a brace; it is not JSON.
    assert_eq!(resources(&load("flow-style.yaml")), ["ConfigMap/flow"]);
}

#[test]
fn utf16_plans_with_byte_order_mark_are_decoded() {
    for name in ["plan-utf16le.tfplan.json", "plan-utf16be.json"] {
        let inputs = load(name);
        assert_eq!(inputs.len(), 1, "{name}");
        assert_eq!(inputs[0].kind, InputKind::TerraformPlan, "{name}");
        let tags = &inputs[0].value["planned_values"]["root_module"]["resources"][0]["values"]["tags"];
        assert_eq!(tags["note"], "café ✓", "{name}");
    }
}

#[test]
fn utf8_byte_order_mark_is_stripped() {
    let inputs = load("utf8-bom.yaml");
    assert_eq!(resources(&inputs), ["Secret/token"]);
    assert_eq!(inputs[0].kind, InputKind::Manifest);
    assert_eq!(inputs[0].value["apiVersion"], "v1");
}

#[test]
fn yaml_merge_keys_are_applied_and_explicit_keys_win() {
    let inputs = load("merge-keys.yaml");
    let container = &inputs[0].value["container"];
    assert_eq!(container["image"], "registry.example.com/app:1.0.0");
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(container["name"], "app");
    assert!(container.get("<<").is_none());
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let e = load_err(&fixture("malformed.yaml"), &Limits::default());
    assert_eq!(e.line, Some(9), "{e}");
    assert!(e.message.contains("invalid YAML"), "{e}");
}

#[test]
fn malformed_json_names_file_and_line() {
    let e = load_err(&fixture("malformed.json"), &Limits::default());
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("invalid JSON"), "{e}");
}

#[test]
fn duplicate_keys_are_refused() {
    let e = load_err(&fixture("duplicate-key.yaml"), &Limits::default());
    assert!(e.message.contains("duplicate key \"name\""), "{e}");
    // serde_yaml_ng places errors raised while building a mapping at the mapping's start.
    assert_eq!(e.line, Some(4), "{e}");
}

#[test]
fn invalid_utf8_names_the_byte_offset_and_line() {
    let e = load_err(&fixture("invalid-utf8.yaml"), &Limits::default());
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("invalid UTF-8 at byte offset 52"), "{e}");
}

#[test]
fn utf16_without_byte_order_mark_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let utf16: Vec<u8> = "{\"a\": 1}".encode_utf16().flat_map(u16::to_le_bytes).collect();
    fs::write(&path, utf16).unwrap();
    let e = load_err(&path, &Limits::default());
    assert!(e.message.contains("NUL"), "{e}");
}

#[test]
fn alias_bomb_is_refused() {
    let e = load_err(&fixture("alias-bomb.yaml"), &Limits::default());
    assert!(e.message.contains("alias"), "{e}");
}

#[test]
fn quadratic_alias_expansion_is_refused() {
    // Each alias is one jump, under serde_yaml_ng's repetition limit, but
    // 20 000 copies of a 20 000-item list would be 400 million values.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.yaml");
    let mut text = String::from("a: &a [");
    text.push_str(&vec!["x"; 20_000].join(","));
    text.push_str("]\nb: [");
    text.push_str(&vec!["*a"; 20_000].join(","));
    text.push_str("]\n");
    fs::write(&path, text).unwrap();
    let e = load_err(&path, &Limits::default());
    assert!(e.message.contains("alias"), "{e}");
}

#[test]
fn ten_thousand_deep_nesting_is_refused_without_overflowing_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("deep.json", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        ("deep-object.json", format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000))),
        ("deep-flow.yaml", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        ("deep-block.yaml", format!("{}x\n", "- ".repeat(10_000))),
        ("deep-mapping.yaml", (0..10_000).map(|i| format!("{}k:\n", " ".repeat(i % 500))).collect()),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        let e = load_err(&path, &Limits::default());
        assert!(e.message.contains("nesting deeper than"), "{name}: {e}");
        assert!(e.line.is_some(), "{name}: {e}");
    }
}

#[test]
fn depth_limit_is_exact() {
    let limits = Limits { max_depth: 5, ..Limits::default() };
    let json = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let yaml = |depth: usize| format!("{}x\n", "- ".repeat(depth));
    for (name, text) in [("at.json", json(5)), ("at.yaml", yaml(5))] {
        assert!(load_str(Path::new(name), &text, &limits).is_ok(), "{name}");
    }
    for (name, text) in [("over.json", json(6)), ("over.yaml", yaml(6))] {
        let e = load_str(Path::new(name), &text, &limits).unwrap_err();
        assert_eq!(e.message, "nesting deeper than 5 levels (limit)", "{name}");
    }
    // The parsers' own ceiling bounds the default limit; up to it, documents load.
    let limits = Limits::default();
    assert!(load_str(Path::new("deep.json"), &json(127), &limits).is_ok());
    assert!(load_str(Path::new("deep.yaml"), &yaml(127), &limits).is_ok());
    for (name, text) in [("deep.json", json(128)), ("deep.yaml", yaml(128))] {
        let e = load_str(Path::new(name), &text, &limits).unwrap_err();
        assert_eq!(e.message, "nesting deeper than 127 levels (limit)", "{name}");
    }
}

#[test]
fn huge_file_is_refused_by_size_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    // Sparse: 100 MiB on paper, nothing on disk; reading it would take seconds.
    fs::File::create(&path).unwrap().set_len(100 << 20).unwrap();
    let e = load_err(&path, &Limits::default());
    assert_eq!(e.message, "file is 104857600 bytes, over the limit of 16777216 bytes");
}

#[test]
fn too_many_documents_are_refused() {
    let limits = Limits { max_documents: 3, ..Limits::default() };
    let e = load_err(&fixture("five-docs.yaml"), &limits);
    assert_eq!(e.message, "more than 3 documents (limit)");
    assert_eq!(e.line, Some(17), "the first document over the limit");

    let limits = Limits { max_documents: 5, ..Limits::default() };
    assert_eq!(load_file(&fixture("five-docs.yaml"), &limits).unwrap().len(), 5);

    // Items of a list count as documents.
    let limits = Limits { max_documents: 2, ..Limits::default() };
    let e = load_err(&fixture("list.yaml"), &limits);
    assert_eq!(e.message, "more than 2 documents (limit)");
}

#[test]
fn missing_file_and_directory_are_errors_naming_them() {
    let missing = fixture("no-such-file.yaml");
    assert!(load_err(&missing, &Limits::default()).message.starts_with("cannot read"));
    let dir = fixture("schema");
    assert_eq!(load_err(&dir, &Limits::default()).message, "is a directory, not a file");
}

// ---- Kubernetes schemas --------------------------------------------------

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixture(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {dir}");
    files
}

#[test]
fn realistic_manifests_of_every_embedded_kind_pass() {
    let mut seen = std::collections::BTreeSet::new();
    for path in yaml_files("schema/valid") {
        for input in load_file(&path, &Limits::default()).unwrap() {
            assert_eq!(check_manifest(&input.value), SchemaCheck::Valid, "{} {}", path.display(), input.resource);
            validate_manifest(&input).unwrap();
            seen.insert((
                input.value["apiVersion"].as_str().unwrap().to_string(),
                input.value["kind"].as_str().unwrap().to_string(),
            ));
        }
    }
    let embedded: Vec<(String, String)> =
        embedded_kinds().into_iter().map(|(a, k)| (a.to_string(), k.to_string())).collect();
    let untested: Vec<_> = embedded.iter().filter(|kind| !seen.contains(*kind)).collect();
    assert!(untested.is_empty(), "embedded kinds without a valid fixture: {untested:?}");
    assert_eq!(embedded.len(), 27);
    assert_eq!(kubernetes_version(), "v1.37.0");
}

#[test]
fn invalid_manifests_fail_naming_file_document_and_field() {
    for path in yaml_files("schema/invalid") {
        let text = fs::read_to_string(&path).unwrap();
        let want = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# want-error: "))
            .unwrap_or_else(|| panic!("{} must start with `# want-error: `", path.display()));
        let inputs = load_file(&path, &Limits::default()).unwrap();
        let errors: Vec<LoadError> = inputs.iter().filter_map(|input| validate_manifest(input).err()).collect();
        assert_eq!(errors.len(), 1, "{}: {errors:?}", path.display());
        let e = &errors[0];
        assert_eq!(e.path, path);
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains(want), "{}:\n  want: {want}\n  got:  {}", path.display(), e.message);
    }
}

#[test]
fn misspelt_field_error_reads_well() {
    let path = fixture("schema/invalid/misspelt-field.yaml");
    let inputs = load_file(&path, &Limits::default()).unwrap();
    let e = validate_manifest(&inputs[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:13: document 0 (Deployment/web): does not match the Kubernetes v1.37.0 schema of apps/v1 Deployment: \
             line 13: /spec/template/spec/containers/0/securityContex: unknown field (did you mean `securityContext`?)",
            path.display()
        )
    );
}

#[test]
fn custom_resources_are_not_validated() {
    let inputs = load("schema/custom-resources.yaml");
    assert_eq!(inputs.len(), 4);
    for input in &inputs {
        assert!(matches!(check_manifest(&input.value), SchemaCheck::CustomResource { .. }), "{}", input.resource);
        validate_manifest(input).unwrap();
    }
}

#[test]
fn documents_that_are_not_kubernetes_objects_are_not_validated() {
    let plan = load("plan-utf16le.tfplan.json");
    validate_manifest(&plan[0]).unwrap();
    let merge = load("merge-keys.yaml");
    assert_eq!(merge[0].kind, InputKind::Document);
    validate_manifest(&merge[0]).unwrap();
}

#[test]
fn malformed_api_versions_have_no_schema() {
    for api_version in ["apps/v1/extra", "/v1", "apps/", ""] {
        let value = serde_json::json!({"apiVersion": api_version, "kind": "Deployment"});
        assert!(matches!(check_manifest(&value), SchemaCheck::NoSchema { .. }), "{api_version:?}");
    }
}

#[test]
fn validators_are_compiled_once_and_reused() {
    let inputs = load("schema/valid/cluster.yaml");
    for _ in 0..1_000 / inputs.len() + 1 {
        for input in &inputs {
            validate_manifest(input).unwrap();
        }
    }
}

#[test]
fn yaml_scalars_convert_to_json_as_kubernetes_does() {
    let value = &load("yaml-scalars.yaml")[0].value;
    assert_eq!(value["1"], "one");
    assert_eq!(value["true"], "yes", "YAML 1.2: `yes` is a string");
    assert_eq!(value["null"], "nothing");
    assert_eq!(value["on"], "push");
    assert_eq!(value["big"].as_f64(), Some(1.2345678901234568e29));
    assert_eq!(value["quoted"], "007");
}

#[test]
fn custom_yaml_tags_are_refused() {
    let e = load_err(&fixture("tagged.yaml"), &Limits::default());
    assert_eq!(e.message, "unsupported YAML tag !Ref");
    assert_eq!(e.line, Some(4));
}
