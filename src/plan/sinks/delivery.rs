//! How a sink delivers: its retry and batching settings (the delivery threads that use them
//! are `sinks::delivery`).

use std::time::Duration;

/// Retry settings of a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Retries after the first attempt before the batch goes to the dead-letter output.
    pub max_retries: u32,
    /// The first retry's nominal wait.
    pub delay: Duration,
    /// The largest nominal wait.
    pub cap: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 10,
            delay: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        }
    }
}

/// Batching of deliveries: a batch goes out when it has `size` records or its first record
/// waited `timeout`. The default is the sync sinks'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    pub size: usize,
    pub timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            size: 500,
            timeout: Duration::from_millis(20),
        }
    }
}
