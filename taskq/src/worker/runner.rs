//! One delivery's run: checks, the task itself under its limits, and what to record after.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tracing::Instrument;

use tokio::sync::OwnedSemaphorePermit;

use super::{Held, Interrupt, Shared};
use crate::backend::Completion;
use crate::context::Context;
use crate::events::{self, Event, EventKind};
use crate::message::Timestamp;
use crate::message::{
    DeadLetterReason, Delivery, Envelope, FailureKind, Lease, Outcome, TaskFailure,
};

mod workflow {
    //! A workflow step's part of the run: stand down if the workflow is over, start the next
    //! steps after success, fail the workflow after a final failure.

    use super::Shared;
    use crate::canvas::plan::{step_failure, Continuation, WorkflowFailure, WORKFLOW_STATE_TTL};
    use crate::error::Error;
    use crate::message::{Envelope, Outcome, Payload, TaskFailure};

    pub(super) fn decode(env: &Envelope) -> Result<Option<Continuation>, serde_json::Error> {
        env.continuation.as_ref().map(Payload::decode).transpose()
    }

    /// Whether the workflow already has its result (failed or revoked) and this step is not
    /// its last.
    pub(super) async fn is_over(shared: &Shared, flow: &Continuation, env: &Envelope) -> bool {
        if flow.plan.workflow == env.id {
            return false;
        }
        match shared.client.backend().record(flow.plan.workflow).await {
            Ok(Some(record)) => record.state.is_final(),
            _ => false,
        }
    }

    /// Starts the steps that this step's output completes.
    pub(super) async fn advance(
        shared: &Shared,
        flow: &Continuation,
        env: &Envelope,
        output: &Payload,
    ) -> Result<(), Error> {
        let plan = &flow.plan;
        let Some(step) = plan.steps.get(flow.step as usize) else {
            return Ok(());
        };
        if step.edges.is_empty() {
            return Ok(());
        }
        let backend = shared.client.backend();
        let value: serde_json::Value = output
            .decode()
            .map_err(|source| Error::DecodeResult { id: env.id, source })?;
        let mut next = Vec::with_capacity(step.edges.len());
        for edge in &step.edges {
            let Some(target) = plan.steps.get(edge.to as usize) else {
                continue;
            };
            let input = if !target.join {
                value.clone()
            } else {
                // Keyed by the target's id, fixed at start: every member's copy of the plan
                // names the same join.
                let key = format!("wf:{}:{}", plan.workflow, target.template.id);
                match backend
                    .join(
                        &key,
                        edge.slot,
                        target.inputs,
                        output.clone(),
                        WORKFLOW_STATE_TTL,
                    )
                    .await?
                {
                    Some(values) => serde_json::Value::Array(
                        values
                            .iter()
                            .map(Payload::decode)
                            .collect::<Result<_, _>>()
                            .map_err(|source| Error::DecodeResult { id: env.id, source })?,
                    ),
                    None => continue,
                }
            };
            let mut message = plan.message(edge.to, Some(input))?;
            message.parent_id = Some(env.id);
            next.push(message);
        }
        if !next.is_empty() {
            backend.publish_once(next, WORKFLOW_STATE_TTL).await?;
        }
        Ok(())
    }

    /// Fails the workflow with this step's failure and starts its error callback.
    pub(super) async fn fail(
        shared: &Shared,
        flow: &Continuation,
        env: &Envelope,
        failure: &TaskFailure,
    ) -> Result<(), Error> {
        let plan = &flow.plan;
        let Some(step) = plan.steps.get(flow.step as usize) else {
            return Ok(());
        };
        let backend = shared.client.backend();
        if plan.workflow != env.id {
            let last = plan.steps.iter().find(|s| s.template.id == plan.workflow);
            let ttl = last
                .and_then(|s| s.template.result_ttl())
                .or(Some(crate::task::DEFAULT_RESULT_TTL));
            backend
                .resolve(
                    plan.workflow,
                    Outcome::Failure(step_failure(step, failure)),
                    ttl,
                    last.and_then(|s| s.template.reply_to.clone()),
                )
                .await?;
        }
        let report = WorkflowFailure {
            workflow: plan.workflow,
            step: step.name.clone(),
            task: step.template.task.clone(),
            step_id: env.id,
            kind: failure.kind,
            message: failure.message.clone(),
        };
        if let Some(errback) = plan.error_message(&report)? {
            backend
                .publish_once(vec![errback], WORKFLOW_STATE_TTL)
                .await?;
        }
        Ok(())
    }
}

/// The tasks every worker runs without registering them: they would otherwise add their queue
/// to every worker's defaults.
pub(super) fn builtin(name: &str) -> Option<&'static crate::registry::TaskEntry> {
    match name {
        crate::canvas::plan::GATHER_TASK => Some(&crate::canvas::GATHER_ENTRY),
        crate::canvas::START_WORKFLOW_TASK => Some(&crate::canvas::START_WORKFLOW_ENTRY),
        _ => None,
    }
}

/// Removes a held task from the worker's map when its run is over (unless a newer delivery of
/// it replaced it there), and frees its room for the next fetch.
struct Registered<'a> {
    shared: &'a Shared,
    id: crate::message::TaskId,
    /// The attempt registered, until `unregister`.
    attempt: Option<u32>,
    _room: OwnedSemaphorePermit,
}

impl Registered<'_> {
    /// Takes the lease out of the worker's map (no more extensions or interrupts); the room is
    /// kept until the guard goes.
    fn unregister(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let mut running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if running
            .get(&self.id)
            .is_some_and(|r| r.lease.attempt == attempt)
        {
            running.remove(&self.id);
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// When the task itself started running.
#[derive(Clone, Copy)]
struct Started {
    at: Timestamp,
    clock: std::time::Instant,
}

impl Started {
    fn now() -> Self {
        Self {
            at: Timestamp::now(),
            clock: std::time::Instant::now(),
        }
    }

    fn runtime_ms(self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// An event of this worker about `env`'s current attempt.
fn event(shared: &Shared, env: &Envelope, kind: EventKind) -> Event {
    let (name, queue) = events::names(Some(&shared.registry), &env.task, &env.queue);
    Event::new(kind, env.id, name, queue)
        .attempt(env.attempt)
        .worker(Some(shared.worker_id.clone()))
}

/// Runs `shared`'s hooks of `kind` about `env`, if it has any.
async fn hook(
    shared: &Shared,
    env: &Envelope,
    kind: crate::hooks::HookKind,
    error: Option<&TaskFailure>,
    runtime: Option<Duration>,
) {
    if shared.hooks.is_empty() {
        return;
    }
    let (name, queue) = events::names(Some(&shared.registry), &env.task, &env.queue);
    let ev = crate::hooks::HookEvent {
        kind,
        id: env.id,
        name: name.to_string(),
        queue: queue.to_string(),
        attempt: env.attempt,
        error: error.map(|f| (f.kind, f.message.clone())),
        runtime,
    };
    shared.hooks.fire(ev).await;
}

fn record(shared: &Shared, event: Event) {
    events::record(&**shared.client.backend(), event);
}

/// How an attempt ended.
enum Ending {
    Finished(Result<crate::message::Payload, TaskFailure>),
    Interrupted(Interrupt),
}

/// Runs `held`, then the held tasks waiting for this runner's slot, one after the other.
pub(super) async fn run_from(shared: &Arc<Shared>, mut held: Held) {
    loop {
        // The task's own panics are caught in `attempt`; one anywhere else in the run must not
        // take the slot with it, or the tasks held behind it would wait for good.
        if let Err(panic) = AssertUnwindSafe(run(shared, held)).catch_unwind().await {
            tracing::error!(
                error = %panic_message(&*panic),
                "a worker run panicked outside its task; its lease brings the task back"
            );
        }
        match shared.next_held() {
            Some(next) => held = next,
            None => return,
        }
    }
}

/// Runs one held task (registered in `shared.running`, which this removes it from when done).
async fn run(shared: &Arc<Shared>, held: Held) {
    let Held {
        delivery: Delivery {
            envelope: env,
            lease,
        },
        entry,
        room,
    } = held;
    let ctx = shared.start_context(&env, entry, &lease);
    let mut registered = Registered {
        shared,
        id: lease.id,
        attempt: Some(lease.attempt),
        _room: room,
    };

    // Revoked, lost or shut down while it waited for its slot.
    if let Some(why) = Interrupt::from_code(ctx.interrupted()) {
        registered.unregister();
        finish(
            shared,
            &env,
            &lease,
            None,
            &ctx,
            Ending::Interrupted(why),
            None,
        )
        .await;
        return;
    }

    // Held past its `expires`: discarded, as the backend does with one it has not delivered.
    if env.is_expired_at(crate::message::Timestamp::now()) {
        registered.unregister();
        let failure = TaskFailure::new(
            FailureKind::Expired,
            "the task expired before a worker started it",
        );
        if events::wanted() {
            let e = event(shared, &env, EventKind::Cancelled)
                .failure(FailureKind::Expired, failure.message.clone());
            record(shared, e);
        }
        ack(shared, &env, lease, Outcome::Failure(failure), None).await;
        return;
    }

    if env.attempt > env.max_attempts {
        let failure = TaskFailure::new(
            FailureKind::Rejected,
            format!(
                "delivered {} times without finishing (at most {} allowed): its workers died or lost the lease",
                env.attempt, env.max_attempts
            ),
        );
        reject(
            shared,
            &env,
            &lease,
            DeadLetterReason::AttemptsExhausted,
            failure,
        )
        .await;
        return;
    }
    let Some(entry) = entry else {
        let failure = TaskFailure::new(
            FailureKind::Rejected,
            format!(
                "unknown task `{}`: no task of that name is registered with this worker",
                env.task
            ),
        );
        reject(shared, &env, &lease, DeadLetterReason::UnknownTask, failure).await;
        return;
    };

    let flow = match workflow::decode(&env) {
        Ok(flow) => flow,
        Err(e) => {
            let failure = TaskFailure::new(
                FailureKind::Rejected,
                format!("the workflow plan in the message does not decode: {e}"),
            );
            reject(
                shared,
                &env,
                &lease,
                DeadLetterReason::MalformedMessage,
                failure,
            )
            .await;
            return;
        }
    };
    if let Some(flow) = &flow {
        if workflow::is_over(shared, flow, &env).await {
            // A step failed or the workflow was revoked: the steps still to come stand down.
            let failure = TaskFailure::new(
                FailureKind::Cancelled,
                "the workflow had already finished (a step failed or it was revoked)",
            );
            if events::wanted() {
                let e = event(shared, &env, EventKind::Cancelled)
                    .failure(FailureKind::Cancelled, failure.message.clone());
                record(shared, e);
            }
            ack(shared, &env, lease, Outcome::Failure(failure), None).await;
            return;
        }
    }

    let task = match (entry.run)(&env.args, ctx.clone()) {
        Ok(fut) => fut,
        Err(e) => {
            let failure = TaskFailure::new(
                FailureKind::Rejected,
                format!("the arguments of `{}` do not decode: {e}", env.task),
            );
            reject(
                shared,
                &env,
                &lease,
                DeadLetterReason::UndecodableArguments,
                failure,
            )
            .await;
            return;
        }
    };
    hook(
        shared,
        &env,
        crate::hooks::HookKind::BeforeStart,
        None,
        None,
    )
    .await;
    let started = Started::now();
    if events::wanted() {
        let mut e = event(shared, &env, EventKind::Started);
        if env.attempt == 1 {
            // Ready since it was enqueued or became due; a retry's due time is not in the
            // message, so retries report no wait.
            let ready = env
                .eta
                .map_or(env.enqueued_at, |eta| eta.max(env.enqueued_at));
            e = e.wait_ms(started.at.0.saturating_sub(ready.0));
        }
        e.at = started.at;
        record(shared, e);
    }
    let ending = attempt(shared, &env, &ctx, task).await;
    // Before recording: a lease handed back or finished is not extended any more.
    registered.unregister();
    finish(
        shared,
        &env,
        &lease,
        flow.as_ref(),
        &ctx,
        ending,
        Some(started),
    )
    .await;
}

/// Records how a delivery ended. `started`: when the task itself began, if it ran.
async fn finish(
    shared: &Shared,
    env: &Envelope,
    lease: &Lease,
    flow: Option<&crate::canvas::plan::Continuation>,
    ctx: &Context,
    ending: Ending,
    started: Option<Started>,
) {
    let runtime = started.map(Started::runtime_ms);
    let ended = |kind: EventKind| {
        let e = event(shared, env, kind);
        match runtime {
            Some(ms) => e.runtime_ms(ms),
            None => e,
        }
    };
    let wanted = events::wanted();
    let lease = lease.clone();
    let counters = &shared.counters;
    let backend = shared.client.backend();
    match ending {
        Ending::Finished(Ok(payload)) => {
            counters
                .succeeded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(flow) = flow {
                // Start the next steps before recording this one: if we die in between, this
                // step runs again and the next ones are not started twice (fixed ids, joins
                // keep the first value of each slot).
                if let Err(e) = workflow::advance(shared, flow, env, &payload).await {
                    tracing::warn!(id = %env.id, error = %e, "could not start the next workflow steps; the step will run again");
                    if let Err(e) = backend.release(vec![lease]).await {
                        tracing::warn!(id = %env.id, error = %e, "could not hand the step back; it returns when its lease expires");
                    }
                    return;
                }
            }
            report_breaker(shared, env, true).await;
            if wanted {
                record(shared, ended(EventKind::Succeeded));
            }
            ack(
                shared,
                env,
                lease,
                Outcome::Success(payload),
                started.map(|s| s.at),
            )
            .await;
            let ran = started.map(|s| s.clock.elapsed());
            hook(shared, env, crate::hooks::HookKind::AfterSuccess, None, ran).await;
        }
        Ending::Finished(Err(failure)) => {
            tracing::debug!(id = %env.id, task = %env.task, attempt = env.attempt, error = %failure, "attempt failed");
            report_breaker(shared, env, false).await;
            if env.attempt < env.max_attempts {
                let delay = ctx
                    .requested_retry()
                    .unwrap_or_else(|| env.backoff.delay(env.attempt));
                if wanted {
                    let e =
                        ended(EventKind::Retried).failure(failure.kind, failure.message.clone());
                    record(shared, e);
                }
                match backend.retry(&lease, delay, &failure).await {
                    Ok(_) => {
                        counters
                            .retried
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let kind = crate::hooks::HookKind::AfterRetry;
                        hook(shared, env, kind, Some(&failure), None).await;
                    }
                    // The lease keeps the task: it is redelivered when the lease expires.
                    Err(e) => {
                        tracing::warn!(id = %env.id, error = %e, "could not schedule the retry")
                    }
                }
            } else {
                counters
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(id = %env.id, task = %env.task, error = %failure, "task failed for good");
                if let Some(flow) = flow {
                    if let Err(e) = workflow::fail(shared, flow, env, &failure).await {
                        tracing::warn!(id = %env.id, error = %e, "could not fail the workflow");
                    }
                }
                if wanted {
                    let e = ended(EventKind::Failed).failure(failure.kind, failure.message.clone());
                    record(shared, e);
                }
                let kind = crate::hooks::HookKind::AfterFailure;
                hook(shared, env, kind, Some(&failure), None).await;
                dead_letter(
                    shared,
                    env,
                    &lease,
                    DeadLetterReason::AttemptsExhausted,
                    failure,
                )
                .await;
            }
        }
        Ending::Interrupted(Interrupt::Revoked) => {
            counters
                .cancelled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let why = if started.is_some() {
                "revoked while running"
            } else {
                "revoked before it started"
            };
            if wanted {
                record(
                    shared,
                    ended(EventKind::Cancelled).failure(FailureKind::Cancelled, why),
                );
            }
            let failure = TaskFailure::new(FailureKind::Cancelled, why);
            let told = (!shared.hooks.is_empty()).then(|| failure.clone());
            ack(
                shared,
                env,
                lease,
                Outcome::Failure(failure),
                started.map(|s| s.at),
            )
            .await;
            if let Some(failure) = told {
                let kind = crate::hooks::HookKind::AfterRevoked;
                hook(shared, env, kind, Some(&failure), None).await;
            }
        }
        Ending::Interrupted(Interrupt::LeaseLost) => {
            // Another worker has (or had) it: write nothing.
            counters
                .cancelled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(id = %env.id, "lease lost; stopped the task without recording anything");
            let kind = crate::hooks::HookKind::AfterLeaseLost;
            hook(shared, env, kind, None, None).await;
        }
        Ending::Interrupted(Interrupt::Shutdown) => {
            counters
                .released
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = backend.release(vec![lease]).await {
                tracing::warn!(id = %env.id, error = %e, "could not hand the task back; it returns when its lease expires");
            }
        }
    }
}

/// One attempt of the task itself: under its timeout, its panics caught, until it ends or is
/// interrupted.
async fn attempt(
    shared: &Shared,
    env: &Envelope,
    ctx: &Context,
    task: futures_util::future::BoxFuture<'static, Result<crate::message::Payload, TaskFailure>>,
) -> Ending {
    // A root span: a run belongs to the trace its message names, not to the worker's.
    let span = tracing::info_span!(
        parent: None,
        "task",
        task_id = %env.id,
        task = %env.task,
        queue = %env.queue,
        attempt = env.attempt,
        worker_id = &*shared.worker_id,
        trace_id = tracing::field::Empty,
    );
    crate::telemetry::trace::attach(&span, env);
    let _running = crate::telemetry::metrics::running(&env.task, &env.queue);
    // Timed for its log line only when a subscriber may want it (no clock read otherwise).
    let clock = (tracing::level_filters::LevelFilter::current() >= tracing::Level::WARN)
        .then(std::time::Instant::now);
    let timeout = env.timeout();
    let attempt = async {
        let caught = AssertUnwindSafe(ctx.clone().scope(task)).catch_unwind();
        let result = match timeout {
            Some(limit) => match tokio::time::timeout(limit, caught).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(TaskFailure::new(
                        FailureKind::Timeout,
                        format!("timed out after {}", fmt_duration(limit)),
                    ))
                }
            },
            None => caught.await,
        };
        match result {
            Ok(r) => r,
            Err(panic) => Err(TaskFailure::new(FailureKind::Panic, panic_message(&*panic))),
        }
    }
    .instrument(span.clone());
    let ending = match ctx.interruptible(attempt).await {
        Ok(r) => Ending::Finished(r),
        Err(code) => Ending::Interrupted(Interrupt::from_code(code).unwrap_or(Interrupt::Shutdown)),
    };
    if let Some(clock) = clock {
        span.in_scope(|| log_ending(&ending, clock.elapsed()));
    }
    ending
}

/// The line that ends an attempt, inside its span (so it carries the task's fields).
fn log_ending(ending: &Ending, ran: Duration) {
    let duration_ms = u64::try_from(ran.as_millis()).unwrap_or(u64::MAX);
    match ending {
        Ending::Finished(Ok(_)) => {
            tracing::info!(duration_ms, outcome = "succeeded", "task succeeded")
        }
        Ending::Finished(Err(f)) => tracing::warn!(
            duration_ms,
            outcome = "failed",
            kind = %f.kind,
            error = %f.message,
            "task attempt failed"
        ),
        Ending::Interrupted(why) => tracing::info!(
            duration_ms,
            outcome = "interrupted",
            reason = ?why,
            "task stopped"
        ),
    }
}

async fn ack(
    shared: &Shared,
    env: &Envelope,
    lease: Lease,
    outcome: Outcome,
    started_at: Option<Timestamp>,
) {
    let task = match shared.registry.get(&env.task) {
        Some(entry) => std::borrow::Cow::Borrowed(entry.name),
        None => std::borrow::Cow::Owned(env.task.clone()),
    };
    let completion = Completion {
        lease,
        outcome,
        result_ttl: env.result_ttl(),
        reply_to: env.reply_to.clone(),
        task: Some(task),
        started_at,
        args: (env.args.as_str().len() <= crate::backend::KEPT_ARGS_MAX).then(|| env.args.clone()),
    };
    // The acker lives as long as the worker; if it is gone the lease brings the task back.
    let _ = shared.acks.send(completion).await;
}

async fn reject(
    shared: &Shared,
    env: &Envelope,
    lease: &Lease,
    reason: DeadLetterReason,
    failure: TaskFailure,
) {
    shared
        .counters
        .rejected
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(id = %env.id, task = %env.task, %reason, error = %failure.message, "rejected a message");
    dead_letter(shared, env, lease, reason, failure).await;
}

/// Tells the backend how an attempt of a task with a circuit breaker ended (see
/// [`crate::flow`]); the report that opens or closes the breaker is logged and sent as a
/// `breaker_opened` / `breaker_closed` event (which counts `taskq_breaker_transitions_total`).
async fn report_breaker(shared: &Shared, env: &Envelope, success: bool) {
    let Some(b) = env.gate.as_ref().and_then(|g| g.breaker.as_ref()) else {
        return;
    };
    match shared
        .client
        .backend()
        .breaker_report(&env.queue, &b.key, &b.spec, success)
        .await
    {
        Ok(report) if report.opened() => {
            let until = match report.after {
                crate::flow::BreakerState::Open { until } => until,
                _ => 0,
            };
            tracing::warn!(task = %env.task, queue = %env.queue, until, "circuit breaker open: no task of this type starts until its cooldown ends");
            if events::wanted() {
                let mut e = event(shared, env, EventKind::BreakerOpened);
                let at = i64::try_from(until)
                    .ok()
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
                e.detail = Some(match at {
                    Some(at) => format!("open until {at}"),
                    None => format!("open until {until} ms"),
                });
                record(shared, e);
            }
        }
        Ok(report) if report.closed() => {
            tracing::info!(task = %env.task, queue = %env.queue, "circuit breaker closed: a probe succeeded");
            if events::wanted() {
                record(shared, event(shared, env, EventKind::BreakerClosed));
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(task = %env.task, error = %e, "could not report to the circuit breaker")
        }
    }
}

async fn dead_letter(
    shared: &Shared,
    env: &Envelope,
    lease: &Lease,
    reason: DeadLetterReason,
    failure: TaskFailure,
) {
    let ttl = env
        .result_ttl()
        .or(Some(crate::task::DEFAULT_RESULT_TTL))
        .filter(|_| env.result_ttl_ms.is_some());
    if events::wanted() {
        let e = event(shared, env, EventKind::DeadLettered)
            .failure(failure.kind, failure.message.clone())
            .reason(reason);
        record(shared, e);
    }
    let result = shared
        .client
        .backend()
        .dead_letter(lease, reason, &failure, ttl, env.reply_to.clone())
        .await;
    match result {
        Ok(_) => {
            let kind = crate::hooks::HookKind::AfterDeadLetter;
            hook(shared, env, kind, Some(&failure), None).await;
        }
        Err(e) => {
            tracing::warn!(id = %env.id, error = %e, "could not dead-letter; the message returns when its lease expires")
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
    format!("panicked: {text}")
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
