//! Configuration changes applied to a running environment without a
//! rebuild, or recorded for the next deploy.

use crate::Status;
use crate::ports::Health;

use super::requests::{Requests, consume};
use super::{Decision, LabelOp, Next, Planner, Step, act};

impl Planner<'_> {
    pub(super) fn conf_ops(&self, requests: &Requests) -> Vec<LabelOp> {
        if requests.conf.is_empty() {
            return Vec::new();
        }
        let mut config = self.labels().config.clone();
        for command in &requests.conf {
            config.apply(command);
        }
        vec![LabelOp::Config(config)]
    }

    pub(super) fn configure(&self, requests: &Requests) -> Decision {
        let l = self.labels();
        let mut config = l.config.clone();
        for command in &requests.conf {
            config.apply(command);
        }
        let applied: Vec<String> = requests.conf.iter().map(ToString::to_string).collect();
        let applied = applied.join("`, `");
        let mut ops = consume(requests);
        ops.push(LabelOp::Config(config.clone()));
        if let Some(need) = self.need_backend() {
            return need;
        }
        // Applied at once to a healthy active environment that is not being
        // replaced; otherwise recorded for the next deploy.
        let running = l.active.clone().filter(|a| {
            l.building.is_none()
                && self
                    .backend_env(a)
                    .is_some_and(|e| e.health == Health::Healthy)
                && !matches!(self.status_of(a), Some(Status::Destroying | Status::Failed))
        });
        let Some(active) = running else {
            return act(
                "configuration recorded",
                vec![
                    Step::Labels(ops),
                    Step::Comment(format!(
                        "Recorded `{applied}`; it applies when the environment next deploys."
                    )),
                ],
                Next::Done,
            );
        };
        ops.push(LabelOp::Status(active.clone(), Status::Configuring));
        act(
            "apply configuration",
            vec![
                Step::Labels(ops),
                Step::ApplyConfig(self.id(&active), config),
                Step::Labels(vec![LabelOp::Status(active.clone(), Status::Running)]),
                Step::Comment(format!(
                    "Applied `{applied}` to `{active}` without a rebuild."
                )),
            ],
            Next::Done,
        )
    }
}
