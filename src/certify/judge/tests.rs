//! Judge helpers on hand-made records: the edge cases real runs hit.

use super::Cx;
use super::passive::window_of_for_test;
use crate::certify::journal::{CaseRecord, DriverEnd, Journal, OpRecord, Transcript};
use crate::certify::plan::CasePlan;
use crate::certify::protocol::{Op, Outcome};

fn record(ops: &[(i64, i64)]) -> CaseRecord {
    CaseRecord {
        case: "c".into(),
        journal: Journal::default(),
        transcript: Transcript {
            hello: None,
            ops: ops
                .iter()
                .enumerate()
                .map(|(i, (sent, answered))| OpRecord {
                    step: i,
                    op: Op::Signin,
                    sent_real_ms: *sent,
                    answered_real_ms: Some(*answered),
                    outcome: Some(Outcome::Ok),
                })
                .collect(),
            end: DriverEnd::Exited(0),
            stderr_tail: String::new(),
        },
    }
}

#[test]
fn a_request_in_the_millisecond_one_op_ends_and_the_next_begins_belongs_to_the_next() {
    // A fast driver: signin answered at 10, the request sent at 10, its
    // 498 and retry recorded at 10 and 11.
    let rec = record(&[(0, 10), (10, 12)]);
    let plan = CasePlan::default();
    let cx = Cx::new(&plan, &rec);
    assert_eq!(window_of_for_test(&cx, 10), (10, 12));
    assert_eq!(window_of_for_test(&cx, 5), (0, 10));
    assert_eq!(window_of_for_test(&cx, 11), (10, 12));
}

#[test]
fn a_server_token_service_root_is_a_token_path() {
    let rec = record(&[]);
    let plan = CasePlan::default();
    let cx = Cx::new(&plan, &rec);
    assert!(cx.is_token_path("/arcgis/tokens"));
    assert!(cx.is_token_path("/arcgis/tokens/"));
    assert!(cx.is_token_path("/arcgis/tokens/generateToken"));
    assert!(cx.is_token_path("/sharing/rest/generateToken"));
    assert!(!cx.is_token_path("/arcgis/rest/services/tokens/MapServer/0"));
    assert!(!cx.is_token_path("/arcgis/rest/services"));
}
