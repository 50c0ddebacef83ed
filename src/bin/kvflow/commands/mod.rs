//! One module per subcommand, what several share (`outputs`), and the error type that
//! decides the exit code.

pub mod bench;
pub mod check;
pub mod durable;
pub mod generate;
pub mod outputs;
pub mod progress;
pub mod replay;
pub mod run;
pub mod serve;
pub mod watch;

use std::fmt;

/// A command's failure: a usage or file problem (exit 2) or a runtime failure (exit 1).
#[derive(Debug)]
pub enum CliError {
    File(String),
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::File(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::File(m) | CliError::Runtime(m) => f.write_str(m),
        }
    }
}

impl From<kvflow::dataflow_file::DataflowFileError> for CliError {
    fn from(error: kvflow::dataflow_file::DataflowFileError) -> Self {
        CliError::File(error.to_string())
    }
}

/// The metrics endpoint of a run, when `--metrics ADDR` was given.
pub struct Exporter {
    /// Kept to serve until the command ends.
    _server: kvflow::exporter::MetricsServer,
    /// What the run's workers report per operator (give it to `RunOptions`).
    pub operators: std::sync::Arc<kvflow::runtime::operator_stats::OperatorStats>,
}

impl Exporter {
    /// Adds a data directory's figures to the endpoint.
    pub fn watch_data_dir(&self, dir: &std::path::Path) {
        let collector = kvflow::exporter::DurabilityCollector::new(dir);
        self._server.register(Box::new(collector));
    }

    /// Adds a server's figures to the endpoint.
    pub fn watch_server(&self, server: &std::sync::Arc<kvflow::server::Server>) {
        let collector = kvflow::exporter::ServerCollector::new(std::sync::Arc::downgrade(server));
        self._server.register(Box::new(collector));
    }

    /// What the run reports its batches to, for the latency histogram.
    pub fn observer(&self) -> std::sync::Arc<dyn kvflow::runtime::observe::RunObserver> {
        self._server.latency()
    }
}

/// Starts the metrics endpoint and dashboard of `plan` when `--metrics ADDR` was given, and
/// says where they are.
pub fn start_exporter(
    addr: Option<&str>,
    plan: &kvflow::plan::Plan,
    metrics: &std::sync::Arc<kvflow::runtime::Metrics>,
    external: &std::sync::Arc<kvflow::sinks::external::ExternalSinks>,
) -> Result<Option<Exporter>, CliError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let operators = std::sync::Arc::new(kvflow::runtime::operator_stats::OperatorStats::default());
    let server = kvflow::exporter::MetricsServer::start(
        addr,
        plan,
        metrics.clone(),
        operators.clone(),
        external.clone(),
    )
    .map_err(CliError::File)?;
    eprintln!("metrics: http://{}/metrics", server.local_addr());
    eprintln!("dashboard: http://{}/", server.local_addr());
    Ok(Some(Exporter {
        _server: server,
        operators,
    }))
}
