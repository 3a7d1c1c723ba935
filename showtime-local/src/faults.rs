//! Injected failures, for tests that run whole programs against this
//! backend: the cloud's errors, without a cloud.
//!
//! A file `<state dir>/faults/<operation>` holding a number `N` makes the
//! next `N` calls of that operation fail, in whichever process uses the
//! directory, before they change anything, as a cloud API's error would.
//! The operations are `deploy`, `wait_ready`, `apply_config`, `sleep`,
//! `wake`, `destroy` and `list`. A second word `permanent` makes the error
//! permanent (a refused request); otherwise it is transient (a 5xx).
//!
//! ```text
//! $ echo 2 > "$SHOWTIME_STATE_DIR/faults/deploy"
//! $ echo "1 permanent" > "$SHOWTIME_STATE_DIR/faults/destroy"
//! ```
//!
//! The count is taken by rewriting the file, so two processes taking the
//! last one at the same instant may both fail: a plan for tests, not a
//! lock. Without the directory nothing is read but one missing file.

use std::fs;
use std::path::Path;

use showtime_core::ports::PortError;

/// The directory under the state directory that holds the plan.
pub const FAULTS_DIR: &str = "faults";

/// Takes one planned failure of `operation` (`"deploy"`…), if any is left.
pub(crate) fn take(state_dir: &Path, operation: &str) -> Result<(), PortError> {
    let path = state_dir.join(FAULTS_DIR).join(operation);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut words = text.split_whitespace();
    let left: u64 = match words.next().map(str::parse) {
        Some(Ok(left)) if left > 0 => left,
        // Used up, or not a plan this module wrote down: nothing to inject.
        _ => return Ok(()),
    };
    let permanent = words.next() == Some("permanent");
    let rest = format!(
        "{}{}\n",
        left - 1,
        if permanent { " permanent" } else { "" }
    );
    let scratch = path.with_extension("taking");
    // A plan that cannot be rewritten is still honoured once.
    let _ = fs::write(&scratch, rest).and_then(|()| fs::rename(&scratch, &path));
    let message = format!(
        "injected failure of `{operation}` ({} planned {left} more); remove that file to stop them",
        path.display()
    );
    Err(if permanent {
        PortError::permanent(message)
    } else {
        PortError::transient(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_fails_that_many_calls_then_none() {
        let dir = tempdir("count");
        fs::create_dir_all(dir.join(FAULTS_DIR)).unwrap();
        fs::write(dir.join(FAULTS_DIR).join("deploy"), "2\n").unwrap();
        let first = take(&dir, "deploy").unwrap_err();
        assert!(matches!(first, PortError::Transient { .. }), "{first:?}");
        assert!(first.to_string().contains("planned 2 more"), "{first}");
        assert!(take(&dir, "deploy").is_err());
        assert!(take(&dir, "deploy").is_ok());
        assert!(take(&dir, "destroy").is_ok(), "only the planned operation");
    }

    #[test]
    fn permanent_failures_and_unreadable_plans() {
        let dir = tempdir("kinds");
        fs::create_dir_all(dir.join(FAULTS_DIR)).unwrap();
        fs::write(dir.join(FAULTS_DIR).join("destroy"), "1 permanent").unwrap();
        let error = take(&dir, "destroy").unwrap_err();
        assert!(matches!(error, PortError::Permanent { .. }), "{error:?}");
        assert!(take(&dir, "destroy").is_ok());
        fs::write(dir.join(FAULTS_DIR).join("list"), "lots").unwrap();
        assert!(take(&dir, "list").is_ok(), "not a number: nothing injected");
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "showtime-local-faults-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }
}
