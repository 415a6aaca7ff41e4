//! `seamless`: check a YAML API spec, generate a typed SDK crate from it, or
//! serve it as a strict mock of its token protocol.
//!
//! Exit status: 0 on success, 1 when the spec has errors or a file cannot be
//! read or written, 2 on a usage error.

mod mock;
mod render;
mod sdk;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use seamless_sdk_codegen::Diagnostics;
use seamless_sdk_codegen::model::Api;
use seamless_sdk_codegen::openapi::Imported;

#[derive(Parser)]
#[command(
    name = "seamless",
    version,
    about = "Typed SDKs for APIs with expiring and single-use session tokens"
)]
struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Write a complete SDK crate (Cargo.toml, src/lib.rs, README.md) for SPEC.
    Generate {
        /// The YAML spec, or an OpenAPI 3.0/3.1 description (JSON or YAML).
        spec: PathBuf,
        /// For an OpenAPI description: the seamless `auth` section, in a file
        /// with a top-level `auth` (default: the document's `x-seamless`).
        #[arg(long, value_name = "FILE")]
        overlay: Option<PathBuf>,
        /// The crate directory to write (created if missing).
        #[arg(long, required_unless_present = "stdout", conflicts_with = "stdout")]
        out: Option<PathBuf>,
        /// Print the generated Rust code instead of writing a crate.
        #[arg(long)]
        stdout: bool,
        /// Depend on a local checkout of seamless instead of the published crate.
        #[arg(long, value_name = "DIR")]
        seamless_path: Option<PathBuf>,
        /// Overwrite a Cargo.toml that seamless did not write.
        #[arg(long)]
        force: bool,
    },
    /// Report every problem in SPEC as `file:line:column: message`.
    Check {
        /// The YAML spec, or an OpenAPI 3.0/3.1 description (JSON or YAML).
        spec: PathBuf,
        /// For an OpenAPI description: the seamless `auth` section (see `generate`).
        #[arg(long, value_name = "FILE")]
        overlay: Option<PathBuf>,
    },
    /// Write a seamless spec from an OpenAPI 3.0/3.1 description, to read and edit.
    Import {
        /// The OpenAPI description (JSON or YAML).
        openapi: PathBuf,
        /// The seamless `auth` section, in a file with a top-level `auth`
        /// (default: the document's `x-seamless`).
        #[arg(long, value_name = "FILE")]
        overlay: Option<PathBuf>,
        /// Where to write the spec (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Serve SPEC on 127.0.0.1 as a strict, fault-injecting server of its token protocol.
    Mock(mock::MockArgs),
    /// Print the JSON Schema of the spec format (for editor completion and checks).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let choice = match cli.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            render::fatal(&message);
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Schema => {
            let schema = seamless_sdk_codegen::schema();
            let text = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            openapi,
            overlay,
            out,
        } => {
            let Some(imported) = import(&openapi, overlay.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            match out {
                Some(out) => {
                    std::fs::write(&out, &imported.spec)
                        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
                    eprintln!("wrote {}", out.display());
                }
                None => print!("{}", imported.spec),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Mock(args) => {
            let Some((api, _)) = checked(&args.spec, args.overlay.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            mock::run(&api, &args)
        }
        Command::Check { spec, overlay } => {
            let Some((api, file)) = checked(&spec, overlay.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            eprintln!(
                "{file}: ok: {} endpoint{}, {} type{}",
                api.endpoints.len(),
                plural(api.endpoints.len()),
                api.types.len(),
                plural(api.types.len())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            spec,
            overlay,
            out,
            stdout,
            seamless_path,
            force,
        } => {
            let (source, file, imported) = source_of(&spec, overlay.as_deref())?;
            let (api, warnings) = match seamless_sdk_codegen::load(&source, &file) {
                Ok(loaded) => loaded,
                Err(problems) => {
                    report(&problems, imported.as_ref());
                    render::summary(&problems);
                    return Ok(ExitCode::FAILURE);
                }
            };
            report(&warnings, imported.as_ref());
            let code = sdk::format(&api, &file)?;
            if stdout {
                print!("{code}");
                return Ok(ExitCode::SUCCESS);
            }
            let out = absolute(&out.ok_or("either --out DIR or --stdout is required")?)?;
            let dependency = match seamless_path {
                Some(p) => sdk::Dependency::Path(absolute(&p)?),
                None => sdk::Dependency::Version,
            };
            let note = sdk::write_crate(&api, &code, &out, &dependency, force)?;
            eprintln!(
                "wrote the `{}` crate ({} method{}) to {}",
                api.name,
                api.endpoints.len(),
                plural(api.endpoints.len()),
                out.display()
            );
            if let Some(note) = note {
                render::note(&note);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The spec at `path` loaded and checked as `seamless check` does it, its
/// warnings printed, with the name its diagnostics carry; `None` (its
/// problems printed) when it has errors.
fn checked(path: &Path, overlay: Option<&Path>) -> Result<Option<(Api, String)>, String> {
    let (source, file, imported) = source_of(path, overlay)?;
    match seamless_sdk_codegen::load(&source, &file) {
        Ok((api, warnings)) => {
            report(&warnings, imported.as_ref());
            Ok(Some((api, file)))
        }
        Err(problems) => {
            report(&problems, imported.as_ref());
            render::summary(&problems);
            Ok(None)
        }
    }
}

/// The spec text at `path`, imported first when it is an OpenAPI
/// description (its import warnings printed), with the name its
/// diagnostics carry and the import.
fn source_of(path: &Path, overlay: Option<&Path>) -> Result<(String, String, Option<Imported>), String> {
    let (source, file) = read(path)?;
    if !seamless_sdk_codegen::openapi::is_openapi(&source) {
        if overlay.is_some() {
            return Err(format!(
                "--overlay is for OpenAPI descriptions, and {file} is a seamless spec"
            ));
        }
        return Ok((source, file, None));
    }
    match import(path, overlay)? {
        Some(imported) => Ok((
            imported.spec.clone(),
            format!("{file} (imported)"),
            Some(imported),
        )),
        None => Err(format!("{file} could not be imported")),
    }
}

/// Prints the loader's diagnostics; those about what the user wrote in an
/// imported description's `x-seamless` or its overlay, at that place.
fn report(diagnostics: &Diagnostics, imported: Option<&Imported>) {
    match imported {
        Some(imported) => {
            for group in imported.relocate(diagnostics.clone()) {
                render::diagnostics(&group);
            }
        }
        None => render::diagnostics(diagnostics),
    }
}

/// Imports the description at `path`, printing its warnings (or its errors,
/// then `None`).
fn import(path: &Path, overlay: Option<&Path>) -> Result<Option<Imported>, String> {
    let (source, file) = read(path)?;
    let overlay = overlay.map(read).transpose()?;
    let overlay = overlay
        .as_ref()
        .map(|(text, name)| (text.as_str(), name.as_str()));
    match seamless_sdk_codegen::openapi::import(&source, &file, overlay) {
        Ok(imported) => {
            render::diagnostics(&imported.warnings);
            eprintln!(
                "{file}: imported {} of {} operations",
                imported.generated, imported.operations
            );
            Ok(Some(imported))
        }
        Err(problems) => {
            render::diagnostics(&problems);
            render::summary(&problems);
            Ok(None)
        }
    }
}

fn read(path: &Path) -> Result<(String, String), String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((source, path.display().to_string()))
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
