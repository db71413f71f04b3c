//! `ncodec`: the command-line front end of the ncodec library. It parses the command
//! line and hands each command to its module in `ncodec_cli::commands`; errors print
//! their whole cause chain and exit with status 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ncodec_cli::commands::{compare, datasets, decode, encode, eval, info, latents, models, train};

/// Learned image, audio and video compression.
#[derive(Debug, Parser)]
#[command(name = "ncodec", version, about = "Learned image, audio and video compression", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compress an image (PNG or JPEG) or a WAV file into an .ncx file.
    Encode(encode::EncodeArgs),
    /// Decompress an .ncx file; images follow the output's extension (.png, .jpg),
    /// audio is written as WAV in its original rate and sample format.
    Decode(decode::DecodeArgs),
    /// Show the header, sections and rate of an .ncx file (`-` reads stdin).
    Info(info::InfoArgs),
    /// List the trained models this build ships.
    Models(models::ModelsArgs),
    /// Write the integer latents of an image, WAV or .ncx file as NumPy .npy.
    Latents(latents::LatentsArgs),
    /// Compare decoded images or WAV files with a reference (PSNR, MS-SSIM, SNR).
    Compare(compare::CompareArgs),
    /// Measure rate–distortion on a folder of images (e.g. Kodak), with BD-rates.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Train a model (runs until --steps; rerun the same command to resume).
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// Download or check datasets.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Encode(a) => encode::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Info(a) => info::run(a),
        Command::Models(a) => models::run(a),
        Command::Latents(a) => latents::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Eval(c) => eval::run(c),
        Command::Train(c) => train::run(c),
        Command::Datasets(c) => datasets::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", ncodec_cli::error::report(&e));
            ExitCode::FAILURE
        }
    }
}
