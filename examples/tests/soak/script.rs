//! What each PR of the soak goes through: its size, the seeded choices,
//! and the script of deliveries of one PR's life.

use super::*;

/// How the run is sized, from the variables of the module documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    pub(crate) deliveries: usize,
    pub(crate) prs: usize,
    pub(crate) window: usize,
    pub(crate) seed: u64,
    pub(crate) bound: Duration,
}

impl Size {
    pub(crate) fn from_env() -> Size {
        fn var(name: &str, default: u64) -> u64 {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
                Err(_) => default,
            }
        }
        let prs = var("SHOWTIME_SOAK_PRS", 50).max(1) as usize;
        Size {
            deliveries: (var("SHOWTIME_SOAK_DELIVERIES", 500) as usize).max(2 * prs),
            prs,
            window: var("SHOWTIME_SOAK_WINDOW", 12).max(1) as usize,
            seed: var("SHOWTIME_SOAK_SEED", 18),
            bound: Duration::from_secs(60 * var("SHOWTIME_SOAK_MINUTES", 20)),
        }
    }

    /// The delivery after which memory is first measured: the thousandth,
    /// or a tenth of a smaller run.
    pub(crate) fn checkpoint(&self) -> usize {
        1000.min(self.deliveries / 10).max(1)
    }
}

/// xorshift64*: reproducible choices from the seed; not for secrets.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next(),
            self.next(),
            self.next() as u32
        )
    }
}

/// One step of a PR's life; each sends one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Opened,
    Start,
    UpLabel,
    Push,
    Status,
    Look,
    Redeliver,
    StopLabel,
    Destroy,
    UpLabelRemoved,
    Close,
}

/// The steps of one PR's life, `budget` deliveries long (give or take
/// the start, stop and close it must have).
pub(crate) fn script(rng: &mut Rng, budget: usize) -> Vec<Step> {
    let starts = rng.chance(45);
    let up = starts && rng.chance(30);
    let stops = starts && rng.chance(35);
    let closes = !rng.chance(15);
    let fixed = 1 + usize::from(starts) + usize::from(stops) + usize::from(closes);
    let mut middle: Vec<Step> = (0..budget.saturating_sub(fixed))
        .map(|_| match rng.below(100) {
            0..30 => Step::Push,
            30..50 => Step::Status,
            50..75 => Step::Redeliver,
            _ => Step::Look,
        })
        .collect();
    if starts {
        let at = rng.below(middle.len() as u64 / 3 + 1) as usize;
        middle.insert(at, if up { Step::UpLabel } else { Step::Start });
        if stops {
            let after = at + 1;
            let at = after + rng.below((middle.len() - after) as u64 + 1) as usize;
            let stop = match (up, rng.below(3)) {
                (true, 0) => Step::UpLabelRemoved,
                (_, 1) => Step::Destroy,
                _ => Step::StopLabel,
            };
            middle.insert(at, stop);
        }
    }
    let mut steps = vec![Step::Opened];
    steps.extend(middle);
    if closes {
        steps.push(Step::Close);
    }
    steps
}
