//! Kubernetes' format library: `format.named`, the `format.<name>()`
//! constructors and `<Format>.validate` (k8s.io/apiserver/pkg/cel/library/format.go).
//! The name checks word their errors as apimachinery's `validation` package
//! (so a `messageExpression` prints what the API server prints); `uri`, `uuid`,
//! `byte`, `date` and `datetime` follow kube-openapi's `strfmt` checks.

use super::{call, global, member, opaque, text};
use cel::common::types::{CelOptional, Type, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, ExecutionError, Value};
use regex::Regex;
use std::sync::{Arc, LazyLock};

/// apiserver's `FormatType`.
const TYPE_NAME: &str = "kubernetes.NamedFormat";

#[derive(Debug, Clone, Copy)]
struct Format {
    /// The name `format.named` takes.
    name: &'static str,
    /// The error messages for an invalid string; empty when it is valid.
    check: fn(&str) -> Vec<String>,
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Format {}

impl Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

const FORMATS: &[Format] = &[
    Format {
        name: "dns1123Label",
        check: |s| dns1123_label(s),
    },
    Format {
        name: "dns1123Subdomain",
        check: |s| dns1123_subdomain(s),
    },
    Format {
        name: "dns1035Label",
        check: |s| dns1035_label(s),
    },
    Format {
        name: "qualifiedName",
        check: qualified_name,
    },
    Format {
        name: "dns1123LabelPrefix",
        check: |s| dns1123_label(&mask_trailing_dash(s)),
    },
    Format {
        name: "dns1123SubdomainPrefix",
        check: |s| dns1123_subdomain(&mask_trailing_dash(s)),
    },
    Format {
        name: "dns1035LabelPrefix",
        check: |s| dns1035_label(&mask_trailing_dash(s)),
    },
    Format {
        name: "labelValue",
        check: label_value,
    },
    Format {
        name: "uri",
        check: uri,
    },
    Format {
        name: "uuid",
        check: |s| failing(UUID.is_match(s), "does not match the UUID format"),
    },
    Format {
        name: "byte",
        check: |s| failing(BASE64.is_match(s), "invalid base64"),
    },
    Format {
        name: "date",
        check: |s| failing(is_date(s), "invalid date"),
    },
    Format {
        name: "datetime",
        check: |s| failing(is_datetime(s), "invalid datetime"),
    },
];

fn named(name: &str) -> Option<Format> {
    FORMATS.iter().find(|f| f.name == name).copied()
}

fn failing(ok: bool, message: &str) -> Vec<String> {
    if ok {
        Vec::new()
    } else {
        vec![message.to_string()]
    }
}

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).expect("the format patterns are valid")
}

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

static DNS1123_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_LABEL));
static DNS1123_SUBDOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_SUBDOMAIN));
static DNS1035_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1035_LABEL));
static QUALIFIED_NAME_RE: LazyLock<Regex> = LazyLock::new(|| anchored(QUALIFIED_NAME));
static LABEL_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_VALUE));
/// strfmt's UUID pattern: any case, dashes optional.
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    anchored("(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
});
/// govalidator's base64 pattern (standard alphabet, padded, non-empty).
static BASE64: LazyLock<Regex> = LazyLock::new(|| {
    anchored("(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
});
static FULL_DATE: LazyLock<Regex> = LazyLock::new(|| anchored(r"(\d{4})-(\d{2})-(\d{2})"));
/// strfmt's `DateTimePattern` for the part after the `t`.
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    anchored(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")
});

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// apimachinery's `RegexError` wording, examples included.
fn regex_error(message: &str, pattern: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{pattern}')");
    }
    let mut out = format!("{message} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{pattern}')"));
    out
}

/// apimachinery's `maskTrailingDash`: a generated-name prefix may end in `-`,
/// so the dash and the character before it become one `a` before the check.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let kept = &name.as_bytes()[..name.len() - 2];
        format!("{}a", String::from_utf8_lossy(kept))
    } else {
        name.to_string()
    }
}

fn dns1123_label(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !DNS1123_LABEL_RE.is_match(s) {
        if DNS1123_SUBDOMAIN_RE.is_match(s) {
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL,
                &["my-name", "123-abc"],
            ));
        }
    }
    errors
}

fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 253 {
        errors.push(max_len_error(253));
    }
    if !DNS1123_SUBDOMAIN_RE.is_match(s) {
        errors.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN,
            &["example.com"],
        ));
    }
    errors
}

fn dns1035_label(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !DNS1035_LABEL_RE.is_match(s) {
        errors.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL,
            &["my-name", "abc-123"],
        ));
    }
    errors
}

const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_EXAMPLES: &[&str] = &["MyName", "my.name", "123-abc"];

/// apimachinery's `IsQualifiedName` (a label key): an optional DNS subdomain
/// prefix and `/`, then a name of at most 63 characters.
fn qualified_name(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(dns1123_subdomain(prefix).into_iter().map(|e| format!("prefix part {e}")));
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MESSAGE, QUALIFIED_NAME, QUALIFIED_NAME_EXAMPLES)
            )]
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push(format!("name part {}", max_len_error(63)));
    }
    if !QUALIFIED_NAME_RE.is_match(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MESSAGE,
                QUALIFIED_NAME,
                QUALIFIED_NAME_EXAMPLES
            )
        ));
    }
    errors
}

fn label_value(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 63 {
        errors.push(max_len_error(63));
    }
    if !LABEL_VALUE_RE.is_match(s) {
        errors.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// Go's `url.ParseRequestURI`, its error worded as Go's `url.Error`.
fn uri(s: &str) -> Vec<String> {
    super::url::request_uri_error(s).into_iter().collect()
}

/// Go's `time.Parse("2006-01-02", s)`: four-digit year, two-digit month and
/// day, and the day must exist in that month.
fn is_date(s: &str) -> bool {
    let Some(c) = FULL_DATE.captures(s) else {
        return false;
    };
    let number = |i: usize| c[i].parse::<u32>().unwrap_or(0);
    chrono::NaiveDate::from_ymd_opt(number(1) as i32, number(2), number(3)).is_some()
}

/// strfmt's `IsDateTime`: lowercased and split at `t`, the first part a date,
/// the second a time with seconds and a `z` or `±hh:mm` offset.
fn is_datetime(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let Some(c) = TIME.captures(parts[1]) else {
        return false;
    };
    &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59"
}

fn format_value(name: &str) -> Result<Value, String> {
    named(name)
        .map(|f| Value::Opaque(Arc::new(f)))
        .ok_or_else(|| format!("no format named {name:?}"))
}

/// `format.named(name)`: an optional, none for an unknown name.
fn format_named<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let name = args.first().and_then(|a| {
        a.downcast_ref::<cel::common::types::CelString>()
            .map(|s| s.inner().to_string())
    });
    let Some(name) = name else {
        return Err(ExecutionError::function_error(
            "format.named",
            "argument 0 must be a string",
        ));
    };
    match named(&name) {
        Some(f) => {
            let value: Box<dyn Val> = Value::Opaque(Arc::new(f)).try_into()?;
            Ok(CowVal::Owned(Box::new(CelOptional::of(value))))
        }
        None => Ok(CowVal::Owned(Box::new(CelOptional::none()))),
    }
}

/// `<Format>.validate(s)`: none when `s` is valid, else the error messages.
fn format_validate<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let values = args
        .iter()
        .map(|a| Value::try_from(a.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let fail = |message: String| ExecutionError::function_error("validate", message);
    let format = opaque::<Format>(&values, 0, "format").map_err(fail)?;
    let errors = (format.check)(text(&values, 1).map_err(fail)?);
    if errors.is_empty() {
        return Ok(CowVal::Owned(Box::new(CelOptional::none())));
    }
    let list = errors
        .into_iter()
        .map(|e| Value::String(Arc::new(e)))
        .collect();
    let list: Box<dyn Val> = Value::List(Arc::new(list)).try_into()?;
    Ok(CowVal::Owned(Box::new(CelOptional::of(list))))
}

/// Declares `format.<name>()` returning that format.
macro_rules! constructors {
    ($env:expr, $($name:literal),+ $(,)?) => {
        $(global(
            $env,
            concat!("format.", $name),
            vec![],
            |args| call(concat!("format.", $name), args, |_| format_value($name)),
        )?;)+
    };
}

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let t = || Type::new_opaque_type(TYPE_NAME);
    env.add_type(t())?;
    global(env, "format.named", vec![STRING_TYPE], format_named)?;
    member(env, "validate", t(), vec![STRING_TYPE], format_validate)?;
    constructors!(
        env,
        "dns1123Label",
        "dns1123Subdomain",
        "dns1035Label",
        "qualifiedName",
        "dns1123LabelPrefix",
        "dns1123SubdomainPrefix",
        "dns1035LabelPrefix",
        "labelValue",
        "uri",
        "uuid",
        "byte",
        "date",
        "datetime",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::holds;
    use super::FORMATS;

    /// `format.<name>().validate(s)` holds no errors.
    fn valid(name: &str, s: &str) {
        holds(&format!("!format.{name}().validate({s:?}).hasValue()"));
        holds(&format!(
            "!format.named({name:?}).value().validate({s:?}).hasValue()"
        ));
    }

    /// `format.<name>().validate(s)` has errors, the first containing `want`.
    fn invalid(name: &str, s: &str, want: &str) {
        holds(&format!(
            "format.{name}().validate({s:?}).hasValue() && format.{name}().validate({s:?}).value()[0].contains({want:?})"
        ));
    }

    #[test]
    fn named_finds_every_format_and_no_other() {
        for format in FORMATS {
            holds(&format!("format.named({:?}).hasValue()", format.name));
        }
        holds("!format.named('unknown').hasValue() && !format.named('DNS1123Label').hasValue()");
    }

    #[test]
    fn dns_labels_and_subdomains() {
        valid("dns1123Label", "my-name");
        valid("dns1123Label", "123-abc");
        invalid("dns1123Label", "My-Name", "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
        invalid("dns1123Label", "a.b", "must not contain dots");
        invalid(
            "dns1123Label",
            &"a".repeat(64),
            "must be no more than 63 characters",
        );
        valid("dns1123Subdomain", "apiextensions.k8s.io");
        invalid(
            "dns1123Subdomain",
            "-example.com",
            "a lowercase RFC 1123 subdomain must consist of",
        );
        invalid(
            "dns1123Subdomain",
            &"a".repeat(254),
            "must be no more than 253 characters",
        );
        valid("dns1035Label", "my-label-name");
        invalid("dns1035Label", "123-abc", "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character");
    }

    #[test]
    fn prefixes_may_end_with_a_dash() {
        valid("dns1123LabelPrefix", "my-label-prefix-");
        valid("dns1123SubdomainPrefix", "mysubdomain.prefix.-");
        valid("dns1035LabelPrefix", "my-label-prefix-");
        invalid(
            "dns1123Label",
            "my-label-prefix-",
            "a lowercase RFC 1123 label",
        );
        invalid("dns1035LabelPrefix", "1abc-", "a DNS-1035 label");
    }

    #[test]
    fn qualified_names_and_label_values() {
        valid("qualifiedName", "apiextensions.k8s.io/v1beta1");
        valid("qualifiedName", "MyName");
        invalid("qualifiedName", "/name", "prefix part must be non-empty");
        invalid(
            "qualifiedName",
            "Example.com/name",
            "prefix part a lowercase RFC 1123 subdomain",
        );
        invalid(
            "qualifiedName",
            "a/b/c",
            "a valid label key must consist of alphanumeric characters",
        );
        invalid(
            "qualifiedName",
            "example.com/",
            "name part must be non-empty",
        );
        invalid(
            "qualifiedName",
            "-name",
            "name part must consist of alphanumeric characters, '-', '_' or '.'",
        );
        holds("format.qualifiedName().validate('example.com/').value().size() == 2");
        valid("labelValue", "");
        valid("labelValue", "my_value");
        invalid(
            "labelValue",
            "bad value",
            "a valid label must be an empty string or consist of alphanumeric characters",
        );
        invalid(
            "labelValue",
            &"a".repeat(64),
            "must be no more than 63 characters",
        );
    }

    #[test]
    fn openapi_formats() {
        valid("uri", "http://example.com");
        valid("uri", "/absolute/path");
        invalid(
            "uri",
            "example.com",
            "parse \"example.com\": invalid URI for request",
        );
        valid("uuid", "123e4567-e89b-12d3-a456-426614174000");
        valid("uuid", "123E4567E89B12D3A456426614174000");
        invalid(
            "uuid",
            "123e4567-e89b-12d3-a456",
            "does not match the UUID format",
        );
        valid("byte", "aGVsbG8=");
        invalid("byte", "aGVsbG8", "invalid base64");
        invalid("byte", "", "invalid base64");
        valid("date", "2021-01-01");
        valid("date", "2024-02-29");
        invalid("date", "2023-02-29", "invalid date");
        invalid("date", "2021-1-01", "invalid date");
        valid("datetime", "2021-01-01T00:00:00Z");
        valid("datetime", "2021-01-01t23:59:59.123+02:00");
        invalid("datetime", "2021-01-01T24:00:00Z", "invalid datetime");
        invalid("datetime", "2021-01-01T00:00:00", "invalid datetime");
        invalid("datetime", "2021-01-01", "invalid datetime");
    }

    #[test]
    fn formats_compare_by_name() {
        for format in FORMATS {
            let name = format.name;
            holds(&format!(
                "format.named({name:?}).value() == format.{name}()"
            ));
            holds(&format!(
                "format.{name}() != format.labelValue() || {name:?} == 'labelValue'"
            ));
        }
    }

    #[test]
    fn messages_match_apimachinery_word_for_word() {
        // Kubernetes' format library tests expect these exact texts.
        holds(
            r#"format.qualifiedName().validate("contains a space").value() == ["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]"#,
        );
        holds(
            r#"format.dns1123SubdomainPrefix().validate("contains a space-").value() == ["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]"#,
        );
        holds(
            r#"format.labelValue().validate("my-cool-label-Value!!\n\n!!!").value() == ["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]"#,
        );
        holds("format.date().validate('2020-01-32').value() == ['invalid date'] && format.datetime().validate('2020-01-32T00:00:00Z').value() == ['invalid datetime']");
    }

    #[test]
    fn validate_lists_every_message() {
        // Too long and badly formed at once: both messages, in apimachinery's order.
        holds(&format!(
            "format.dns1123Label().validate('{}').value().size() == 2",
            "A".repeat(64)
        ));
    }
}
