//! `ccxt-s3-sim --root DIR --addr 127.0.0.1:PORT [--bucket NAME]`: a local S3-compatible
//! server for CI and manual checks. Prints the endpoint, then serves until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A local S3-compatible server (test keys, see the crate docs) on loopback.
#[derive(Debug, Parser)]
#[command(name = "ccxt-s3-sim")]
struct Args {
    /// Directory holding the objects (`<root>/<bucket>/<key>`); created if missing.
    #[arg(long)]
    root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Bucket to create.
    #[arg(long, default_value = ccxt_s3_sim::BUCKET)]
    bucket: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let sim = match ccxt_s3_sim::S3Sim::start_on(&args.root, &args.addr, &args.bucket).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", sim.endpoint());
    eprintln!(
        "ccxt-s3-sim: bucket '{}' at {} (access key {}, secret key {}, region {})",
        args.bucket,
        sim.endpoint(),
        ccxt_s3_sim::ACCESS_KEY,
        ccxt_s3_sim::SECRET_KEY,
        ccxt_s3_sim::REGION
    );
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = terminated => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(sim);
    ExitCode::SUCCESS
}
