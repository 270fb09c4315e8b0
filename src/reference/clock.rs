//! Injected time (semantics.md "Reference server control"). Everything
//! time-dependent in the reference reads a [`Clock`]; requests never move it.
//! The virtual clock starts at the real current time and only moves when the
//! control API (or a test) tells it to, never backwards.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" in epoch milliseconds.
pub trait Clock: Send + Sync + Debug {
    fn now_ms(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The operating system's clock shifted by a fixed offset: a server whose
/// clock runs ahead (positive) or behind (negative) the client's, without
/// control (`tessera serve --clock-offset`), to prove that checks within the
/// declared `time_tolerance` never fail a server for clock skew.
#[derive(Debug, Default, Clone, Copy)]
pub struct OffsetClock {
    pub offset_ms: i64,
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        system_now_ms().saturating_add(self.offset_ms)
    }
}

/// Parses a signed duration for `--clock-offset` (`1.5s`, `-1.5s`, `-2m`,
/// `250ms`) into milliseconds; at most a day either way.
pub fn parse_offset(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let sd: jiff::SignedDuration = t.parse().map_err(|_| {
        format!("a signed duration such as `1.5s`, `-1.5s` or `-250ms`, found `{t}`")
    })?;
    if sd.as_secs().abs() > 86_400 {
        return Err(format!(
            "an offset of at most a day either way, found `{t}`"
        ));
    }
    Ok(sd.as_millis() as i64)
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct VirtualClock {
    now: AtomicI64,
}

/// Why the virtual clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock never moves backwards (now {now}, asked {asked})")]
    Backwards { now: i64, asked: i64 },
    #[error("the clock cannot move past the largest instant (now {now})")]
    Overflow { now: i64 },
}

impl VirtualClock {
    /// Starts at the real current time.
    pub fn new() -> Self {
        Self::at(system_now_ms())
    }

    /// Starts at `ms` (tests).
    pub fn at(ms: i64) -> Self {
        VirtualClock {
            now: AtomicI64::new(ms),
        }
    }

    /// Moves forward by `ms` (negative is refused) and returns the new now.
    pub fn advance(&self, ms: i64) -> Result<i64, ClockError> {
        if ms < 0 {
            let now = self.now_ms();
            return Err(ClockError::Backwards {
                now,
                asked: now.saturating_add(ms),
            });
        }
        // checked: an overflowing advance must not wrap the clock backwards.
        self.now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                cur.checked_add(ms)
            })
            .map(|prev| prev + ms)
            .map_err(|now| ClockError::Overflow { now })
    }

    /// Sets now to `ms`, which must not be earlier than now.
    pub fn set(&self, ms: i64) -> Result<i64, ClockError> {
        self.now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                (ms >= cur).then_some(ms)
            })
            .map(|_| ms)
            .map_err(|now| ClockError::Backwards { now, asked: ms })
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_advance_is_refused_and_moves_nothing() {
        let c = VirtualClock::at(1_000);
        assert!(matches!(
            c.advance(i64::MAX),
            Err(ClockError::Overflow { now: 1_000 })
        ));
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.advance(5).unwrap(), 1_005);
    }

    #[test]
    fn offsets_parse_signed_and_shift_the_system_clock() {
        assert_eq!(parse_offset("1.5s").unwrap(), 1_500);
        assert_eq!(parse_offset("-1.5s").unwrap(), -1_500);
        assert_eq!(parse_offset("-250ms").unwrap(), -250);
        assert_eq!(parse_offset("2m").unwrap(), 120_000);
        assert!(parse_offset("soon").is_err());
        assert!(parse_offset("48h").is_err());
        let ahead = OffsetClock { offset_ms: 60_000 };
        let d = ahead.now_ms() - SystemClock.now_ms();
        assert!((59_000..=60_000).contains(&d), "{d}");
    }

    #[test]
    fn virtual_clock_moves_only_forward() {
        let c = VirtualClock::at(1000);
        assert_eq!(c.now_ms(), 1000);
        assert_eq!(c.advance(5).unwrap(), 1005);
        assert!(c.advance(-1).is_err());
        assert!(c.set(1004).is_err());
        assert_eq!(c.set(2000).unwrap(), 2000);
        assert_eq!(c.now_ms(), 2000);
    }
}
