//! Cluster configuration: `-n PROCESSES -p INDEX -h HOSTFILE`, on timely's own TCP layer.

use std::path::Path;

use super::RunError;

/// This process's place in a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub processes: usize,
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
}

impl ClusterConfig {
    /// Reads a hostfile: one `host:port` a line; blank lines and `#` comments are skipped.
    /// Without a hostfile, processes listen on 127.0.0.1 from port 2101 up.
    pub fn new(
        processes: usize,
        process: usize,
        hostfile: Option<&Path>,
    ) -> Result<ClusterConfig, RunError> {
        if process >= processes {
            return Err(RunError::Cluster(format!(
                "process index {process} is not below the number of processes {processes}"
            )));
        }
        let addresses = match hostfile {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| RunError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                parse_hostfile(&text)
            }
            None => (0..processes)
                .map(|i| format!("127.0.0.1:{}", 2101 + i))
                .collect(),
        };
        if addresses.len() < processes {
            return Err(RunError::Cluster(format!(
                "the hostfile lists {} addresses for {processes} processes",
                addresses.len()
            )));
        }
        Ok(ClusterConfig {
            processes,
            process,
            addresses: addresses.into_iter().take(processes).collect(),
        })
    }

    pub(super) fn communication(
        &self,
        threads: usize,
    ) -> Result<timely::CommunicationConfig, RunError> {
        Ok(timely::CommunicationConfig::Cluster {
            threads: threads.max(1),
            process: self.process,
            addresses: self.addresses.clone(),
            report: false,
            zerocopy: false,
        })
    }
}

fn parse_hostfile(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostfile_skips_comments_and_blanks() {
        assert_eq!(
            parse_hostfile("# cluster\n127.0.0.1:2101\n\n127.0.0.1:2102 # second\n"),
            vec!["127.0.0.1:2101", "127.0.0.1:2102"]
        );
    }
}
