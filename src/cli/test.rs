//! `verdict test`: the library's cases, plus external suites found under PATH.

use crate::limits::Limits;
use crate::report::rego_coverage::CoverageFormat;
use crate::report::{HumanProgress, OutputFormat};
use crate::runner::{self, CaseRunOptions};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Project roots or directories holding suites; default: the project around the working directory.
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: OutputFormat,
    /// Write the formatted results to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write FORMAT to FILE (repeatable), e.g. `--report junit:target/junit.xml`.
    #[arg(long, value_name = "FORMAT:FILE", value_parser = parse_report)]
    report: Vec<(OutputFormat, PathBuf)>,
    /// Run only rules whose id matches this glob.
    #[arg(long)]
    filter: Option<String>,
    /// Worker threads; default: one per core.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run a stable slice of the rules, `hash:N/M` (1-based N).
    #[arg(long, value_parser = parse_partition)]
    partition: Option<(u64, u64)>,
    /// Largest input file accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_file_bytes)]
    max_file_size: u64,
    /// Append one JSON line per verdict (decision id, time, rule, input digest, outcome, mode, waiver) to FILE.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Let a run that finds nothing to check (or skips everything) pass.
    #[arg(long)]
    allow_empty: bool,
    /// What a suite resource that breaks its Kubernetes schema does: `strict` makes
    /// every result using it an error, `warn` reports it and evaluates it as written.
    #[arg(long, value_enum, default_value = "strict")]
    schema: crate::input::schema::SchemaMode,
    /// Run gator suites whose template has both Rego and CEL code on one engine
    /// only (as `gator verify --enable-k8s-native-validation=true|false` picks
    /// one); by default each such test runs under both, rows named `test[rego]`
    /// and `test[cel]`.
    #[arg(long, value_enum, value_name = "ENGINE")]
    gator_engine: Option<crate::engine::gatekeeper::TemplateEngine>,
    /// Where `*.image.yaml` cases push their images: `auto` starts a throwaway
    /// registry (only when a case needs one), a URL (`http://127.0.0.1:5000`) uses that one.
    #[arg(long, value_name = "auto|URL", default_value = "auto")]
    registry: crate::oci::RegistryChoice,
    /// Report line coverage of every Rego module the run evaluates (library rules,
    /// Gatekeeper templates, unit tests) with the results.
    #[arg(long)]
    coverage: bool,
    /// Fail the run (exit 1) when Rego line coverage is below P percent; implies --coverage.
    #[arg(long, value_name = "P", value_parser = parse_percent)]
    coverage_threshold: Option<f64>,
    /// Also write the coverage as FORMAT (`cobertura`, `json`) to FILE (repeatable),
    /// e.g. `--coverage-report cobertura:target/coverage.xml`; implies --coverage.
    #[arg(long, value_name = "FORMAT:FILE", value_parser = parse_coverage_report)]
    coverage_report: Vec<(CoverageFormat, PathBuf)>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let p: f64 = s.trim_end_matches('%').parse().map_err(|_| "expected a percentage, e.g. 90")?;
    if !(0.0..=100.0).contains(&p) {
        return Err("expected a percentage between 0 and 100".into());
    }
    Ok(p)
}

fn parse_coverage_report(s: &str) -> Result<(CoverageFormat, PathBuf), String> {
    let (format, file) = s.split_once(':').ok_or("expected FORMAT:FILE")?;
    let format = <CoverageFormat as clap::ValueEnum>::from_str(format, true)?;
    Ok((format, PathBuf::from(file)))
}

fn parse_report(s: &str) -> Result<(OutputFormat, PathBuf), String> {
    let (format, file) = s.split_once(':').ok_or("expected FORMAT:FILE")?;
    let format = <OutputFormat as clap::ValueEnum>::from_str(format, true)?;
    Ok((format, PathBuf::from(file)))
}

fn parse_partition(s: &str) -> Result<(u64, u64), String> {
    let spec = s.strip_prefix("hash:").ok_or("expected hash:N/M")?;
    let (n, m) = spec.split_once('/').ok_or("expected hash:N/M")?;
    let n: u64 = n.parse().map_err(|_| "N is not a number")?;
    let m: u64 = m.parse().map_err(|_| "M is not a number")?;
    if n == 0 || m == 0 || n > m {
        return Err("need 1 <= N <= M".into());
    }
    Ok((n, m))
}

pub fn run(args: TestArgs) -> Result<u8> {
    let limits = Limits { max_file_bytes: args.max_file_size, ..Limits::default() };
    let filter = match &args.filter {
        Some(g) => Some(globset::Glob::new(g).context("--filter")?.compile_matcher()),
        None => None,
    };
    let options = CaseRunOptions {
        limits,
        filter,
        partition: args.partition,
        jobs: args.jobs.unwrap_or_else(runner::default_jobs),
        // INSTA_UPDATE and CI decide what a changed snapshot writes, as for `cargo test`.
        snapshots: Some(crate::snapshot::UpdateMode::from_env()),
        schema: args.schema,
        registry: args.registry.clone(),
        gator_engine: args.gator_engine,
    };
    let coverage = args.coverage || args.coverage_threshold.is_some() || !args.coverage_report.is_empty();
    if coverage {
        crate::engine::rego::coverage::start();
    }
    let mut progress = HumanProgress::new(anstream::stderr());
    let cwd = std::env::current_dir()?;
    let mut summary = if args.paths.is_empty() {
        // No PATH: the library of the project around the working directory, as cargo finds Cargo.toml.
        let Some(root) = crate::library::find_project_root(&cwd) else {
            bail!("no policies/ directory at or above {}; pass a PATH", cwd.display());
        };
        let library = crate::library::load_library(&root, &options.limits);
        runner::run_library(&library, &options, |e| progress.on_event(e))
    } else {
        for p in &args.paths {
            if !p.exists() {
                bail!("{}: no such file or directory", p.display());
            }
        }
        runner::run_paths(&args.paths, &options, |e| progress.on_event(e))
    };
    summary.allow_empty = args.allow_empty;
    summary.base = runner::absolute(&crate::library::find_repository_root(&cwd));
    if coverage {
        let collected = crate::engine::rego::coverage::finish();
        summary.coverage = Some(crate::report::rego_coverage::shown(collected, &summary));
        summary.coverage_threshold = args.coverage_threshold;
    }

    match &args.output {
        Some(file) => crate::report::write_to_file(args.format, &summary, file)
            .with_context(|| format!("writing {}", file.display()))?,
        None => args.format.formatter().write(&summary, &mut anstream::stdout())?,
    }
    if let Some(file) = &args.decision_log {
        crate::report::decision_log::append(&summary.verdicts, file).with_context(|| format!("writing {}", file.display()))?;
    }
    for (format, file) in &args.report {
        crate::report::write_to_file(*format, &summary, file).with_context(|| format!("writing {}", file.display()))?;
    }
    if let Some(collected) = &summary.coverage {
        for (format, file) in &args.coverage_report {
            crate::report::rego_coverage::write_to_file(*format, &summary, collected, file).with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(summary.exit_code())
}
