//! `rpatch plan`: each play's batches, why hosts are where they are, gates and window.

use super::ansible_cfg::AnsibleConfig;
use super::args::PlanArgs;
use super::error::CliError;
use super::load::load_all_in;
use crate::rolling::serial::Serial;
use crate::runner::exit;
use crate::runner::plan::{plan_playbook, PlanInputs};

/// Prints the plan without contacting any host.
pub fn plan(mut args: PlanArgs) -> Result<i32, CliError> {
    let roles_path = AnsibleConfig::for_sources(&mut args.sources)?;
    let loaded = load_all_in(&args.playbook, None, &args.sources, &roles_path)?;
    let limit = match &args.limit {
        Some(pattern) => Some(loaded.inventory.select_limit(pattern)?),
        None => None,
    };
    let serial_override = args.serial.as_deref().map(Serial::parse_cli).transpose()?;
    let inputs = PlanInputs {
        limit,
        serial_override: serial_override.clone(),
        extra_vars: loaded.extra_vars.clone(),
    };
    let plans = plan_playbook(
        &loaded.playbook,
        &loaded.inventory,
        &loaded.templar,
        &inputs,
    )?;
    let now = crate::rolling::clock::Clock::from_env()?.now();
    if let Some((saved, placed)) = &loaded.discovered {
        let topology = &saved.topology;
        let guests: Vec<String> = placed
            .iter()
            .filter_map(|guest| {
                let at = topology.guests.get(guest)?;
                Some(format!("{guest} on {}", at.hypervisor))
            })
            .collect();
        outln!(
            "TOPOLOGY discovered {} from {} hypervisor(s): {}",
            saved.discovered_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            topology.hypervisors.len(),
            if guests.is_empty() {
                "no guest placed (the inventory names every hypervisor)".to_string()
            } else {
                guests.join(", ")
            }
        );
        outln!();
    }
    for (play, plan) in loaded.playbook.plays.iter().zip(&plans) {
        let rollout = &play.rollout;
        let hosts: usize = plan.batches.iter().map(|b| b.hosts.len()).sum();
        outln!(
            "PLAY [{}] hosts: {} ({hosts} host{})",
            plan.name,
            plan.pattern,
            if hosts == 1 { "" } else { "s" }
        );
        let serial = plan
            .serial
            .as_ref()
            .map_or_else(|| "all at once".to_string(), ToString::to_string);
        outln!("  order: {}, serial: {serial}", rollout.order);
        let mut budget = Vec::new();
        if let Some(pct) = rollout.failure.max_fail_percentage {
            budget.push(format!("max_fail_percentage {pct}"));
        }
        if let Some(pct) = rollout.failure.max_unreachable_percentage {
            budget.push(format!("max_unreachable_percentage {pct}"));
        }
        if rollout.failure.any_errors_fatal {
            budget.push("any_errors_fatal".into());
        }
        if !budget.is_empty() {
            outln!("  halts when: {}", budget.join(", "));
        }
        match &rollout.windows {
            None => outln!("  window: always open"),
            Some(windows) => {
                let state = if windows.is_open(now) {
                    "open now".to_string()
                } else {
                    windows.next_open(now).map_or_else(
                        || "closed, never opens".to_string(),
                        |next| format!("closed now, opens {next} ({})", next.timestamp()),
                    )
                };
                outln!("  window: {windows} ({state})");
            }
        }
        for gate in &rollout.preflight_gates {
            outln!(
                "  pre-flight gate: {} (retries {}, delay {:?})",
                gate.name,
                gate.retries,
                gate.delay
            );
        }
        for gate in &rollout.gates {
            outln!(
                "  gate after each batch: {} (retries {}, delay {:?})",
                gate.name,
                gate.retries,
                gate.delay
            );
        }
        if !rollout.gates.is_empty() {
            outln!("  on gate failure: {:?}", rollout.on_gate_failure);
        }
        for (number, batch) in plan.batches.iter().enumerate() {
            outln!(
                "  batch {}/{} ({} host{}):",
                number + 1,
                plan.batches.len(),
                batch.hosts.len(),
                if batch.hosts.len() == 1 { "" } else { "s" }
            );
            for (host, reasons) in &batch.hosts {
                outln!("    {host:<24} {}", reasons.join("; "));
            }
            if let Some(shortfall) = &batch.shortfall {
                outln!("    ({shortfall})");
            }
        }
        outln!();
    }
    Ok(exit::OK)
}
