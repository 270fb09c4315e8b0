//! Applicability: whether a scenario can be played on a target, and how.
//!
//! Decides, before anything is sent:
//! - a profile the target does not implement, or knobs the target does not
//!   declare with the same values → **not applicable**;
//! - `advance:` without clock control → real waits when the total fits the
//!   target's `max_real_wait`, else **skipped** with the reason;
//! - source-address aliases, fixture users or password control the target
//!   lacks → **skipped** with the reason;
//! - knobs a remote target with knob control (`/_tessera/knobs`) does not
//!   have → set there for the scenario, which then runs alone.
//!
//! Every skip and not-applicable decision says what would unlock it
//! ([`Unlock`]), for the coverage part of the report.
//!
//! Pure: no I/O, no clock.

use crate::knobs::Knobs;
use crate::report::model::Unlock;
use crate::scenario::model::Capability;
use crate::scenario::plan::{Case, RequestStep, Scenario, StepKind};
use crate::scenario::template::Var;
use crate::target::{PRIMARY, Target, TargetKind, humanize};
use std::collections::BTreeSet;

/// How (and whether) to play one scenario on one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Play(Plan),
    Skip(Unmet),
    NotApplicable(Unmet),
}

/// Why a scenario cannot be played here, and what would let it (coverage
/// reports name it next to every rule no case checked).
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet {
    pub reason: String,
    pub unlock: Option<Unlock>,
}

impl Unmet {
    fn new(reason: impl Into<String>, unlock: Unlock) -> Unmet {
        Unmet {
            reason: reason.into(),
            unlock: Some(unlock),
        }
    }
}

impl std::ops::Deref for Unmet {
    type Target = str;
    fn deref(&self) -> &str {
        &self.reason
    }
}

/// The way a playable scenario is played.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `advance:` sleeps in real time (no clock control).
    pub real_waits: bool,
    /// Must not overlap other scenarios on a shared target (it moves the
    /// control clock or changes a password).
    pub exclusive: bool,
    /// The knob values the scenario sees (`{{knobs.X}}`), and the in-process
    /// reference is started with.
    pub knobs: Knobs,
    /// Knobs to set on a remote target through `POST /_tessera/knobs`
    /// before playing (a reset restores the target's own afterwards); empty
    /// when nothing needs setting.
    pub remote_knobs: serde_json::Map<String, serde_json::Value>,
}

/// Decides for scenario `s` (whatever its cases hold) on target `t`.
pub fn decide(s: &Scenario, t: &Target) -> Decision {
    decide_case(s, None, t)
}

/// Decides for one instance: scenario `s` with matrix case `case` (its
/// values may name fixture users and addresses too) on target `t`.
pub fn decide_case(s: &Scenario, case: Option<&Case>, t: &Target) -> Decision {
    if !t.profiles.contains(&s.profile) {
        return Decision::NotApplicable(Unmet::new(
            format!("the target does not implement the `{}` profile", s.profile),
            Unlock::Profile {
                profile: s.profile.as_str().to_owned(),
            },
        ));
    }
    let mut remote_knobs = serde_json::Map::new();
    let knobs = match &t.kind {
        TargetKind::Reference { .. } => s.knobs.apply(&t.knobs),
        // The control API sets them for this scenario alone.
        TargetKind::Remote if t.capabilities.knob_control => {
            for (name, want) in s.knobs.iter() {
                if t.knobs.get(name).ok().as_ref() != Some(&want) {
                    remote_knobs.insert(name.to_owned(), want);
                }
            }
            s.knobs.apply(&t.knobs)
        }
        TargetKind::Remote => {
            for (name, want) in s.knobs.iter() {
                let have = t.knobs.get(name).ok();
                if !t.declared_knobs.contains(name) {
                    return Decision::NotApplicable(Unmet::new(
                        format!(
                            "the scenario needs knob `{name}` = {want}; the target does not declare it"
                        ),
                        Unlock::DeclareKnob {
                            knob: name.to_owned(),
                        },
                    ));
                }
                if have.as_ref() != Some(&want) {
                    return Decision::NotApplicable(Unmet::new(
                        format!(
                            "the scenario needs knob `{name}` = {want}; the target declares {}",
                            have.unwrap_or(serde_json::Value::Null)
                        ),
                        Unlock::KnobValue {
                            knob: name.to_owned(),
                            value: want,
                        },
                    ));
                }
            }
            t.knobs.clone()
        }
    };
    let caps = &t.capabilities;
    let advance = s.total_advance();
    let moves_clock = s.requires.contains(&Capability::ClockControl) || !advance.is_zero();
    let mut real_waits = false;
    if moves_clock && !caps.clock_control {
        if advance <= caps.max_real_wait {
            real_waits = true;
        } else {
            return Decision::Skip(Unmet::new(
                format!(
                    "needs clock control to advance {}; the target has none and allows real waits up to {}",
                    humanize(advance),
                    humanize(caps.max_real_wait)
                ),
                Unlock::RealWaits {
                    ms: u64::try_from(advance.as_millis()).unwrap_or(u64::MAX),
                },
            ));
        }
    }
    let sets_password = s
        .steps
        .iter()
        .any(|st| matches!(st.kind, StepKind::SetPassword(_)));
    if (sets_password || s.requires.contains(&Capability::PasswordControl))
        && !caps.password_control
    {
        return Decision::Skip(Unmet::new(
            "needs password control (POST /_tessera/users/{name}/password); the target has none",
            Unlock::PasswordControl,
        ));
    }
    let mut used = used_names(s);
    let cases: Vec<&Case> = match case {
        Some(c) => vec![c],
        None => s.cases.iter().collect(),
    };
    for c in cases {
        let more = case_names(c);
        used.users.extend(more.users);
        used.addresses.extend(more.addresses);
        used.rendered_addresses.extend(more.rendered_addresses);
    }
    if s.requires.contains(&Capability::AltAddresses)
        && !caps.addresses.keys().any(|k| k != PRIMARY)
    {
        return Decision::Skip(Unmet::new(
            "needs alternate source addresses; the target declares none",
            Unlock::AltAddresses,
        ));
    }
    for a in &used.addresses {
        if a != PRIMARY && !caps.addresses.contains_key(a) {
            return Decision::Skip(Unmet::new(
                format!("needs the source address `{a}`; the target does not declare it"),
                Unlock::AltAddresses,
            ));
        }
    }
    for a in &used.rendered_addresses {
        if !caps.addresses.contains_key(a) {
            return Decision::Skip(Unmet::new(
                format!(
                    "renders the address of `{a}` ({{{{addr.{a}}}}}); the target does not declare it"
                ),
                Unlock::Address { alias: a.clone() },
            ));
        }
    }
    for u in &used.users {
        if !t.users.contains_key(u) {
            return Decision::Skip(Unmet::new(
                format!("needs the fixture user `{u}`; the target maps no account to it"),
                Unlock::User { alias: u.clone() },
            ));
        }
    }
    Decision::Play(Plan {
        real_waits,
        // A password change is seen by every scenario on a shared target,
        // with or without clock control; a clock move only when the clock
        // really moves (real waits leave the target's clock alone).
        // Knobs set through the control API hold for the whole server.
        exclusive: t.is_shared()
            && (sets_password || (moves_clock && caps.clock_control) || !remote_knobs.is_empty()),
        knobs,
        remote_knobs,
    })
}

/// Puts back the target's own values of the knobs `plan` set through the
/// control API (a reset would too, but only where the target offers one).
pub async fn restore_knobs(
    control: &crate::client::Control<'_>,
    t: &Target,
    plan: &Plan,
) -> Result<(), String> {
    if plan.remote_knobs.is_empty() {
        return Ok(());
    }
    let back: serde_json::Map<String, serde_json::Value> = plan
        .remote_knobs
        .keys()
        .filter_map(|k| Some((k.clone(), t.knobs.get(k).ok()?)))
        .collect();
    control.set_knobs(&back).await.map(|_| ())
}

/// Aliases a scenario refers to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UsedNames {
    pub addresses: BTreeSet<String>,
    pub users: BTreeSet<String>,
    /// Aliases whose IP address a request renders (`{{addr.X}}`): these
    /// need a declared address even for `primary`.
    pub rendered_addresses: BTreeSet<String>,
}

/// The aliases named by placeholders inside a matrix case's string values
/// (`who: "{{users.bob.name}}"`): a case value may hold placeholders, one
/// level deep, which the step using `{{case.who}}` then renders.
pub fn case_names(case: &Case) -> UsedNames {
    let mut u = UsedNames::default();
    for t in case.templates.values() {
        add_names(t.vars(), &mut u);
    }
    u
}

fn add_names<'a>(vars: impl Iterator<Item = &'a Var>, u: &mut UsedNames) {
    for v in vars {
        match v {
            Var::Addr(a) => {
                u.addresses.insert(a.clone());
                u.rendered_addresses.insert(a.clone());
            }
            Var::User { alias, .. } => {
                u.users.insert(alias.clone());
            }
            _ => {}
        }
    }
}

/// Every source-address alias (`from:`, `{{addr.X}}`) and fixture user
/// (`{{users.X.*}}`, `set_password`) the scenario uses.
pub fn used_names(s: &Scenario) -> UsedNames {
    let mut u = UsedNames::default();
    let visit = |rs: &RequestStep, u: &mut UsedNames| {
        if let Some(f) = &rs.request.from {
            u.addresses.insert(f.clone());
        }
        add_names(rs.vars(), u);
    };
    for st in &s.steps {
        match &st.kind {
            StepKind::Request(rs) => visit(rs, &mut u),
            StepKind::Concurrent(v) => v.iter().for_each(|rs| visit(rs, &mut u)),
            StepKind::SetPassword(sp) => {
                u.users.insert(sp.user.value.clone());
            }
            StepKind::Advance(_) | StepKind::AdvanceTo(_) | StepKind::Wait(_) => {}
        }
    }
    u
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::model::{Loc, Profile, Request, Spanned};
    use crate::scenario::plan::{RequestPlan, Step};
    use crate::target::Target;
    use std::time::Duration;

    pub(crate) fn scenario(profile: Profile, steps: Vec<StepKind>) -> Scenario {
        Scenario {
            file: "x.yaml".into(),
            id: "a/b".into(),
            area: "a".into(),
            title: String::new(),
            description: None,
            rules: vec!["LT-5".parse().unwrap()],
            profile,
            requires: vec![],
            knobs: Default::default(),
            cases: vec![Case::default()],
            steps: steps
                .into_iter()
                .map(|kind| Step {
                    loc: Loc::default(),
                    rules: vec![],
                    note: None,
                    kind,
                })
                .collect(),
        }
    }

    fn request_from(alias: &str) -> StepKind {
        StepKind::Request(Box::new(RequestStep {
            loc: Loc::default(),
            request: RequestPlan::compile(&Request {
                endpoint: Some(Spanned::new("server_info".into(), Loc::default())),
                from: Some(Spanned::new(alias.into(), Loc::default())),
                ..Default::default()
            })
            .unwrap(),
            asserts: Vec::new(),
            capture: Default::default(),
        }))
    }

    fn remote() -> Target {
        let mut t = Target::reference(vec![]);
        t.kind = TargetKind::Remote;
        t.base_url = "http://127.0.0.1:1".into();
        t
    }

    #[test]
    fn profile_not_implemented_is_not_applicable() {
        let mut t = remote();
        t.profiles.remove(&Profile::Arcweb2006);
        let d = decide(&scenario(Profile::Arcweb2006, vec![]), &t);
        assert!(matches!(d, Decision::NotApplicable(r) if r.contains("arcweb-2006")));
    }

    #[test]
    fn knobs_apply_on_the_reference_and_must_match_elsewhere() {
        let mut s = scenario(Profile::ArcgisToken, vec![]);
        s.knobs
            .set("web_tier_auth", &serde_json::json!(true))
            .unwrap();
        match decide(&s, &Target::reference(vec![])) {
            Decision::Play(p) => assert!(p.knobs.web_tier_auth),
            other => panic!("{other:?}"),
        }
        let d = decide(&s, &remote());
        assert!(
            matches!(&d, Decision::NotApplicable(r) if r.contains("web_tier_auth")),
            "{d:?}"
        );
        let mut t = remote();
        t.declared_knobs.remove("web_tier_auth");
        t.knobs.web_tier_auth = true;
        assert!(
            matches!(decide(&s, &t), Decision::NotApplicable(r) if r.contains("does not declare"))
        );
        t.declared_knobs.insert("web_tier_auth".into());
        assert!(matches!(decide(&s, &t), Decision::Play(_)));
    }

    #[test]
    fn knob_control_sets_the_scenarios_knobs_and_runs_it_alone() {
        let mut s = scenario(Profile::ArcgisToken, vec![]);
        s.knobs
            .set("web_tier_auth", &serde_json::json!(true))
            .unwrap();
        s.knobs
            .set("short_lived_minutes", &serde_json::json!(60))
            .unwrap();
        let mut t = remote();
        t.capabilities.knob_control = true;
        match decide(&s, &t) {
            Decision::Play(p) => {
                assert!(p.knobs.web_tier_auth);
                assert!(p.exclusive);
                // Only what differs from the target's knobs is set.
                assert_eq!(
                    serde_json::Value::Object(p.remote_knobs),
                    serde_json::json!({"web_tier_auth": true})
                );
            }
            other => panic!("{other:?}"),
        }
        // A scenario stating the target's own values needs nothing set.
        let mut same = scenario(Profile::ArcgisToken, vec![]);
        same.knobs
            .set("web_tier_auth", &serde_json::json!(false))
            .unwrap();
        assert!(
            matches!(decide(&same, &t), Decision::Play(p) if p.remote_knobs.is_empty() && !p.exclusive)
        );
    }

    #[test]
    fn every_unmet_need_says_what_would_unlock_it() {
        let mut s = scenario(Profile::ArcgisToken, vec![]);
        s.knobs
            .set("web_tier_auth", &serde_json::json!(false))
            .unwrap();
        let mut t = remote();
        t.declared_knobs.remove("web_tier_auth");
        match decide(&s, &t) {
            Decision::NotApplicable(u) => assert_eq!(
                u.unlock.map(|u| u.to_string()).as_deref(),
                Some("declare web_tier_auth")
            ),
            other => panic!("{other:?}"),
        }
        let wait = scenario(
            Profile::ArcgisToken,
            vec![StepKind::Advance(Duration::from_secs(61))],
        );
        t.capabilities.clock_control = false;
        match decide(&wait, &t) {
            Decision::Skip(u) => assert_eq!(
                u.unlock.map(|u| u.to_string()).as_deref(),
                Some("allow real waits of 1m 1s")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn advance_without_clock_control_waits_or_skips() {
        let s = scenario(
            Profile::ArcgisToken,
            vec![StepKind::Advance(Duration::from_secs(61 * 60))],
        );
        let mut t = remote();
        t.capabilities.clock_control = false;
        t.capabilities.max_real_wait = Duration::from_secs(120);
        let d = decide(&s, &t);
        assert!(
            matches!(&d, Decision::Skip(r) if r.contains("1h 1m") && r.contains("2m")),
            "{d:?}"
        );
        let short = scenario(
            Profile::ArcgisToken,
            vec![StepKind::Advance(Duration::from_secs(90))],
        );
        match decide(&short, &t) {
            Decision::Play(p) => {
                assert!(p.real_waits);
                assert!(!p.exclusive);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clock_moving_scenarios_are_exclusive_on_shared_targets_only() {
        let s = scenario(
            Profile::ArcgisToken,
            vec![StepKind::Advance(Duration::from_secs(1))],
        );
        assert!(matches!(decide(&s, &remote()), Decision::Play(p) if p.exclusive && !p.real_waits));
        assert!(
            matches!(decide(&s, &Target::reference(vec![])), Decision::Play(p) if !p.exclusive)
        );
    }

    #[test]
    fn password_changes_are_exclusive_on_shared_targets_even_without_clock_control() {
        let sp = scenario(
            Profile::ArcgisToken,
            vec![StepKind::SetPassword(crate::scenario::model::SetPassword {
                user: Spanned::new("alice".into(), Loc::default()),
                password: "new".into(),
            })],
        );
        let mut t = remote();
        t.capabilities.clock_control = false;
        t.capabilities.password_control = true;
        assert!(matches!(decide(&sp, &t), Decision::Play(p) if p.exclusive));
        assert!(
            matches!(decide(&sp, &Target::reference(vec![])), Decision::Play(p) if !p.exclusive)
        );
        // An ordinary scenario is not.
        let plain = scenario(Profile::ArcgisToken, vec![request_from("primary")]);
        assert!(matches!(decide(&plain, &t), Decision::Play(p) if !p.exclusive));
    }

    #[test]
    fn users_and_addresses_named_in_case_values_skip_when_missing() {
        let mut s = scenario(Profile::ArcgisToken, vec![request_from("primary")]);
        let case = |name: &str, v: &str| {
            Case::new(
                name.into(),
                [("who".to_string(), serde_json::json!(v))]
                    .into_iter()
                    .collect(),
            )
        };
        s.cases = vec![
            case("bob", "{{users.bob.name}}"),
            case("alt", "{{addr.alt1}}"),
            case("plain", "alice"),
        ];
        let mut t = remote();
        t.users.remove("bob");
        t.capabilities.addresses.retain(|k, _| k == PRIMARY);
        let d = decide_case(&s, Some(&s.cases[0]), &t);
        assert!(
            matches!(&d, Decision::Skip(r) if r.contains("fixture user `bob`")),
            "{d:?}"
        );
        let d = decide_case(&s, Some(&s.cases[1]), &t);
        assert!(
            matches!(&d, Decision::Skip(r) if r.contains("`alt1`")),
            "{d:?}"
        );
        assert!(matches!(
            decide_case(&s, Some(&s.cases[2]), &t),
            Decision::Play(_)
        ));
        // The scenario as a whole needs all of them.
        assert!(matches!(decide(&s, &t), Decision::Skip(_)));
    }

    #[test]
    fn a_rendered_primary_address_must_be_declared() {
        let mut s = scenario(Profile::ArcgisToken, vec![]);
        s.cases = vec![Case::new(
            "c".into(),
            [("xff".to_string(), serde_json::json!("{{addr.primary}}"))]
                .into_iter()
                .collect(),
        )];
        let mut t = remote();
        t.capabilities.addresses.remove(PRIMARY);
        let d = decide_case(&s, Some(&s.cases[0]), &t);
        assert!(
            matches!(&d, Decision::Skip(u) if u.contains("`primary`")
                && u.unlock == Some(Unlock::Address { alias: "primary".into() })),
            "{d:?}"
        );
        t.capabilities.addresses = crate::target::loopback_addresses();
        assert!(matches!(
            decide_case(&s, Some(&s.cases[0]), &t),
            Decision::Play(_)
        ));
    }

    #[test]
    fn missing_addresses_and_password_control_skip() {
        let s = scenario(Profile::ArcgisToken, vec![request_from("alt1")]);
        let mut t = remote();
        t.capabilities.addresses.clear();
        assert!(matches!(decide(&s, &t), Decision::Skip(r) if r.contains("alt1")));
        let p = scenario(Profile::ArcgisToken, vec![request_from("primary")]);
        assert!(matches!(decide(&p, &t), Decision::Play(_)));
        t.capabilities.password_control = false;
        let sp = scenario(
            Profile::ArcgisToken,
            vec![StepKind::SetPassword(crate::scenario::model::SetPassword {
                user: Spanned::new("alice".into(), Loc::default()),
                password: "new".into(),
            })],
        );
        assert!(matches!(decide(&sp, &t), Decision::Skip(r) if r.contains("password control")));
    }
}
