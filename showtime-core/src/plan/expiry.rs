//! The expiry warning: a sweep tells people, once, that an environment's
//! TTL runs out within [`Policy::expiry_warning`](crate::policy::Policy),
//! and how to keep it. "Once" holds across processes because the warning
//! is recorded in the labels the sweep already lists (`🎪 ⏰ <expiry>`),
//! written before anyone is told: a sweep where nothing expires soon costs
//! no request, and a crash after the label leaves at most one warning
//! unsent, never two sent. The record names the expiry it announced, so a
//! later expiry (an extended TTL, a newer commit) is announced again.

use chrono::{DateTime, Utc};

use crate::{Status, Timestamp};

use super::{Decision, Event, LabelOp, Next, Planner, Step, act};

impl Planner<'_> {
    /// When the serving environment expires, if that is within the warning
    /// period and no warning named that time yet.
    fn expiry_due(&self) -> Option<DateTime<Utc>> {
        let warning = self.policy.expiry_warning?;
        let active = self.labels().active.as_ref()?;
        let serving = matches!(
            self.status_of(active),
            Some(Status::Running | Status::Updating | Status::Configuring | Status::Sleeping)
        );
        if !serving {
            return None;
        }
        let at = self.ttl().expires_at(self.created_at()?)?;
        let due = self.now < at && at - self.now <= warning;
        let announced = self.labels().expiry_warned == Some(Timestamp::from_datetime(at));
        (due && !announced).then_some(at)
    }

    /// The plan that warns of the expiry, in a sweep when one is due.
    pub(super) fn expiry_warning(&self) -> Option<Decision> {
        if self.obs.event != Event::Sweep {
            return None;
        }
        let at = self.expiry_due()?;
        let minutes = (at - self.now).num_minutes().max(1);
        let left = if minutes >= 60 {
            format!("{}h {:02}m", minutes / 60, minutes % 60)
        } else {
            format!("{minutes}m")
        };
        let when = at.format("%Y-%m-%d %H:%M UTC");
        let pr = self.obs.pr.number;
        let message = format!(
            "⏰ The environment expires at {when}, in {left} (TTL `{}`), and will then be \
             destroyed. To keep it, comment `/circus extend 24h` (or `/circus keep-alive` to \
             keep it until the PR closes).",
            self.ttl()
        );
        let notice = format!(
            "PR #{pr}: environment expires at {when} (in {left}); comment `/circus extend 24h` \
             on the PR to keep it"
        );
        Some(act(
            "expiry warning",
            vec![
                // Recorded first: a warning is sent at most once.
                Step::Labels(vec![LabelOp::ExpiryWarned(Some(Timestamp::from_datetime(
                    at,
                )))]),
                Step::Comment(message),
                Step::Notify(notice),
            ],
            Next::Done,
        ))
    }
}
