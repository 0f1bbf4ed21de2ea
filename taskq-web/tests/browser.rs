//! The dashboard in a real browser: Debian's headless Chromium (over chromedriver) against the
//! served router on a private redis-server, with a real worker in this process. Each scenario
//! has its own redis-server, server and browser; they run one at a time (the machine is small
//! and some of them measure the page's responsiveness).
//!
//! - a task submitted through the API appears on the Tasks page within one second, without a
//!   reload; a failing task reaches Dead letters, a click on requeue runs it again; a viewer
//!   sees no requeue button and a forged request with its token gets `403`;
//! - the enqueue form, generated from the task's schema, submits a task that runs, and shows
//!   the API's `422` field error under the field for a bad value (nothing is enqueued);
//! - pause / resume from the Queues page, live; revoke from a task's page;
//! - bulk revoke / delete / retry of everything matching an argument filter (the count in the
//!   confirmation, exactly those tasks acted on), and of a selection;
//! - the Overview under a flood of tasks stays responsive and its stream stays bounded;
//! - on a phone (390 x 844) no page overflows horizontally;
//! - a workflow step's page shows its graph (this step and the ones it leads to) with states.
//!
//! Screenshots go to `target/taskq-web-screenshots/`.

mod browser_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use browser_support::app::{assert_marked, confirm, login, mark, open, wait_live, App};
use browser_support::Browser;
use fantoccini::Locator;
use serde_json::{json, Value};

/// One scenario at a time (each has its own runtime, so a Tokio mutex, held across awaits).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The queue the first scenario's worker serves.
const WORK: &str = "web-work";
/// A queue nobody serves: what is sent there stays ready, to be seen on the Tasks page.
const PARKED: &str = "web-parked";

/// Whether `flaky` succeeds yet.
static HEALED: AtomicBool = AtomicBool::new(false);

/// Adds two numbers.
#[taskq::task(queue = "web-work")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Fails for every seventh `n`, once: some failures for the overview's chart.
#[taskq::task(queue = "web-load", max_attempts = 1)]
async fn sometimes(n: u32) -> Result<u32, String> {
    if n % 7 == 0 {
        Err(format!("{n} is a multiple of 7"))
    } else {
        Ok(n)
    }
}

/// Fails until the test heals it; one attempt only, so it goes straight to the dead letters.
#[taskq::task(queue = "web-work", max_attempts = 1)]
async fn flaky(n: u32) -> Result<u32, String> {
    if HEALED.load(Ordering::SeqCst) {
        Ok(n)
    } else {
        Err(format!("flaky {n} is not healed yet"))
    }
}

fn name_of<T: taskq::Task>() -> &'static str {
    T::NAME
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[WORK, "web-load"], |w| w).await;
    let base = app.base.clone();

    // Some history for the overview, and the parked queue made known.
    for i in 0..20 {
        app.submit(name_of::<add>(), json!({"a": i, "b": 1})).await;
    }
    app.submit(
        name_of::<add>(),
        json!({"a": 0, "b": 0, "options": {"queue": PARKED}}),
    )
    .await;

    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.admin).await;
    wait_live(&b).await;
    b.wait_css("#workers-up", Duration::from_secs(10)).await;
    // Some load for the charts to draw (for the screenshot; nothing is asserted of it).
    let mut n = 0u32;
    for round in 0..40u32 {
        let burst = 10 + (round % 8) * 6;
        app.client
            .send_many((0..burst).map(|_| {
                n += 1;
                sometimes::new(n)
            }))
            .await
            .expect("send load");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.screenshot("overview").await;

    // --- a task submitted through the API shows up on the Tasks page, live -------------------
    open(&b, &base, "/tasks").await;
    mark(&b).await;
    let started = Instant::now();
    let id = app
        .submit(
            name_of::<add>(),
            json!({"a": 40, "b": 2, "options": {"queue": PARKED}}),
        )
        .await;
    b.wait_css(
        &format!("#tasks tr[data-id='{id}']"),
        Duration::from_secs(5),
    )
    .await;
    let seen_after = started.elapsed();
    assert!(
        seen_after <= Duration::from_secs(1),
        "the task took {seen_after:?} to appear on the Tasks page (at most 1 s)"
    );
    assert_marked(&b, "a new task on the Tasks page").await;
    b.screenshot("tasks").await;

    // --- a failing task reaches Dead letters; requeue runs it again --------------------------
    let dead_id = app.submit(name_of::<flaky>(), json!({"n": 7})).await;
    open(&b, &base, "/dead").await;
    let requeue = format!("tr[data-id='{dead_id}'] button.requeue");
    b.wait_css(&requeue, Duration::from_secs(10)).await;
    b.screenshot("dead").await;
    HEALED.store(true, Ordering::SeqCst);
    b.click_css(&requeue, Duration::from_secs(5)).await;
    confirm(&b, |t| t.contains(&dead_id)).await;
    // The row leaves the page live, and the task succeeds.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.has(&format!("tr[data-id='{dead_id}']")).await {
        assert!(
            Instant::now() < deadline,
            "the requeued dead letter stayed listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client
        .goto(&app.url(&format!("/tasks/{dead_id}")))
        .await
        .expect("open the task");
    b.wait_css(
        "#task-state[data-state='succeeded']",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(app.state(&dead_id).await["state"], "succeeded");
    b.screenshot("task").await;

    // --- a viewer: no requeue button, and a forged request is refused ------------------------
    HEALED.store(false, Ordering::SeqCst);
    let dead2 = app.submit(name_of::<flaky>(), json!({"n": 8})).await;
    b.client
        .find(Locator::Css("form[action='/logout'] button"))
        .await
        .expect("the log-out button")
        .click()
        .await
        .expect("log out");
    login(&b, &base, &app.viewer).await;
    open(&b, &base, "/dead").await;
    b.wait_css(&format!("tr[data-id='{dead2}']"), Duration::from_secs(10))
        .await;
    assert!(
        !b.has("button.requeue, button[data-action], button[data-dead-bulk]")
            .await,
        "a viewer sees action buttons"
    );
    b.screenshot("dead-viewer").await;
    // The page's own action endpoint, with the viewer's cookie.
    let forged = b
        .js(&format!(
            "var x = new XMLHttpRequest();
             x.open('POST', '/ui/actions/dead', false);
             x.setRequestHeader('Content-Type', 'application/json');
             x.send(JSON.stringify({{action: 'requeue', items: [{{queue: '{WORK}', id: '{dead2}'}}]}}));
             return x.status;"
        ))
        .await;
    assert_eq!(
        forged,
        json!(403),
        "a viewer's forged requeue from the page"
    );
    // The API's, with the viewer's token.
    let r = app
        .http
        .post(app.url(&format!("/api/queues/{WORK}/dead/requeue")))
        .bearer_auth(&app.viewer)
        .json(&json!({"ids": [dead2]}))
        .send()
        .await
        .expect("forged API request");
    assert_eq!(
        r.status().as_u16(),
        403,
        "a viewer's requeue through the API"
    );
    // Still dead.
    assert!(app
        .client
        .backend()
        .dead_letters(WORK, 100)
        .await
        .expect("dead letters")
        .iter()
        .any(|d| d.id.to_string() == dead2));

    b.close().await;
    app.stop().await;
}

// --- the enqueue form ----------------------------------------------------------------------

/// The queue of `greet`.
const FORM: &str = "web-form";
/// Where the bad submission is sent (nobody serves it): it would stay there if enqueued.
const FORM_PARKED: &str = "web-form-parked";

/// Greets `name`, `times` times: an integer, a string and an optional argument for the form.
#[taskq::task(queue = "web-form")]
async fn greet(times: i64, name: String, suffix: Option<String>) -> String {
    let n = usize::try_from(times).unwrap_or(0);
    format!(
        "{}{}",
        vec![name; n].join(" "),
        suffix.as_deref().unwrap_or("!")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enqueue_form_is_generated_from_the_schema() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[FORM], |w| w).await;
    let base = app.base.clone();
    let greet = name_of::<greet>();
    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.operator).await;
    open(&b, &base, "/tasks").await;
    b.click_css("#enqueue summary", Duration::from_secs(5))
        .await;
    b.wait_css("#enqueue select[name='task']", Duration::from_secs(5))
        .await
        .select_by_value(greet)
        .await
        .expect("pick the task");
    b.wait_css(
        &format!("#enqueue-task[data-task='{greet}']"),
        Duration::from_secs(5),
    )
    .await;
    // One input per argument, of the argument's kind.
    for (css, what) in [
        (
            "#arg-times[data-kind='number']",
            "an integer input for `times`",
        ),
        ("#arg-name[data-kind='string']", "a text input for `name`"),
        (
            "#arg-suffix[data-kind='string']",
            "a text input for `suffix`",
        ),
    ] {
        assert!(b.has(css).await, "the form has no {what} ({css})");
    }
    let page = &b;
    let field = |css: &'static str| async move {
        let el = page.wait_css(css, Duration::from_secs(5)).await;
        el.clear().await.expect("clear the field");
        el
    };

    // --- text in the integer field: the API's 422, under the field; nothing enqueued -------
    field("#arg-times")
        .await
        .send_keys("three")
        .await
        .expect("type");
    field("#arg-name")
        .await
        .send_keys("ann")
        .await
        .expect("type");
    field("#enqueue-task input[data-option='queue']")
        .await
        .send_keys(FORM_PARKED)
        .await
        .expect("type");
    b.click_css(
        "#enqueue-task button[type='submit']",
        Duration::from_secs(5),
    )
    .await;
    let shown = b
        .wait_text(
            "#enqueue-task .field-error[data-pointer='/times']",
            Duration::from_secs(5),
            |t| !t.is_empty(),
        )
        .await;
    // The same body through the API: the page shows the API's own words.
    let (status, problem) = app
        .try_submit(
            greet,
            &json!({"times": "three", "name": "ann", "options": {"queue": FORM_PARKED}}),
        )
        .await;
    assert_eq!(
        status, 422,
        "the API accepted text for an integer: {problem}"
    );
    let api_detail = problem["errors"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["pointer"] == "/times"))
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_else(|| panic!("no error at /times in the API's answer: {problem}"))
        .to_owned();
    assert_eq!(
        shown, api_detail,
        "the form shows the API's field error for `times`"
    );
    assert_eq!(
        b.js("return document.getElementById('arg-times').getAttribute('aria-invalid');")
            .await,
        json!("true"),
        "the bad field is marked invalid"
    );
    assert!(
        !b.has("#enqueue-task .field-error:not([data-pointer='/times'])")
            .await,
        "an error shown under a field that is fine"
    );
    b.screenshot("enqueue-error").await;
    // Nothing was enqueued, by the page or by the API call above.
    let parked = app.queue(FORM_PARKED).await;
    assert!(
        parked
            .as_ref()
            .is_none_or(|q| q["ready"] == 0 && q["scheduled"] == 0 && q["running"] == 0),
        "a rejected submission was enqueued: {parked:?}"
    );
    let form_q = app.queue(FORM).await;
    assert!(
        form_q.as_ref().is_none_or(|q| q["ready"] == 0),
        "a rejected submission was enqueued: {form_q:?}"
    );

    // --- valid values, the optional field left empty: it runs, its result on its page ------
    field("#arg-times")
        .await
        .send_keys("3")
        .await
        .expect("type");
    field("#enqueue-task input[data-option='queue']").await;
    assert_eq!(
        b.js("return document.getElementById('arg-suffix').value;")
            .await,
        json!(""),
        "the optional field is empty"
    );
    b.click_css(
        "#enqueue-task button[type='submit']",
        Duration::from_secs(5),
    )
    .await;
    let link = b.wait_css("#enqueued", Duration::from_secs(5)).await;
    assert!(
        !b.has("#enqueue-task .field-error").await,
        "the old field error stayed"
    );
    let id = link
        .attr("data-id")
        .await
        .expect("attribute")
        .expect("the enqueued task's id");
    link.click().await.expect("open the enqueued task");
    b.wait_css(
        "#task-state[data-state='succeeded']",
        Duration::from_secs(10),
    )
    .await;
    let result = b
        .wait_text("#task-result", Duration::from_secs(5), |t| !t.is_empty())
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&result).ok(),
        Some(json!("ann ann ann!")),
        "the task's page shows its result"
    );
    let status = app.state(&id).await;
    assert_eq!(status["state"], "succeeded", "{status}");
    assert_eq!(status["result"], json!("ann ann ann!"));
    b.screenshot("enqueued-task").await;
    b.close().await;
    app.stop().await;
}

// --- pause / resume from the Queues page, revoke from a task's page -------------------------

/// The queue paused and resumed from the page.
const PAUSE: &str = "web-pause";

/// Returns its argument.
#[taskq::task(queue = "web-pause")]
async fn ping(n: u32) -> u32 {
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_pause_and_resume_and_a_task_is_revoked_from_its_page() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[PAUSE], |w| w).await;
    let base = app.base.clone();
    let ping = name_of::<ping>();
    // The queue made known, and the worker seen running it.
    let first = app.submit(ping, json!({"n": 0})).await;
    assert_eq!(app.wait_done(&first).await["state"], "succeeded");

    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.operator).await;
    open(&b, &base, "/queues").await;
    let row = format!("#queues tr[data-queue='{PAUSE}']");
    b.wait_css(&format!("{row} .s-running"), Duration::from_secs(5))
        .await;
    mark(&b).await;
    b.click_css(
        &format!("{row} button[data-action='pause']"),
        Duration::from_secs(5),
    )
    .await;
    b.wait_css(&format!("{row} .s-paused"), Duration::from_secs(3))
        .await;
    b.wait_css(
        &format!("{row} button[data-action='resume']"),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(
        app.queue(PAUSE).await.map(|q| q["paused"].clone()),
        Some(json!(true)),
        "the API says the queue is paused"
    );

    // Sent to the paused queue, with its worker running: it stays ready.
    let waiting = app.submit(ping, json!({"n": 1})).await;
    let doomed = app.submit(ping, json!({"n": 2})).await;
    b.wait_text(
        &format!("{row} td:nth-child(2)"),
        Duration::from_secs(3),
        |t| t.trim() == "2",
    )
    .await;
    assert_marked(&b, "pausing from the Queues page").await;
    b.screenshot("queues-paused").await;
    let workers = app.get("/api/workers").await;
    assert!(
        workers["workers"]
            .as_array()
            .is_some_and(|ws| ws.iter().any(|w| w["queues"]
                .as_array()
                .is_some_and(|qs| qs.iter().any(|q| q == PAUSE)))),
        "no live worker serves {PAUSE}: {workers}"
    );
    // A worker polls every fetch interval; a second is many of them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in [&waiting, &doomed] {
        let s = app.state(id).await;
        assert_eq!(s["state"], "pending", "a task of a paused queue ran: {s}");
    }

    // Revoke one from its page: the confirmation names it; the page turns cancelled, live.
    open(&b, &base, &format!("/tasks/{doomed}")).await;
    b.wait_css("#task-state[data-state='pending']", Duration::from_secs(5))
        .await;
    mark(&b).await;
    b.click_css("button[data-action='revoke']", Duration::from_secs(5))
        .await;
    confirm(&b, |t| t.contains(&doomed)).await;
    b.wait_css(
        "#task-state[data-state='cancelled']",
        Duration::from_secs(3),
    )
    .await;
    assert_marked(&b, "revoking from the task's page").await;
    assert!(
        !b.has("button[data-action='revoke']").await,
        "a cancelled task still offers revoke"
    );
    assert_eq!(app.state(&doomed).await["state"], "cancelled");
    b.screenshot("task-revoked").await;

    // Resume from the Queues page: the waiting task runs; the page says running, live.
    open(&b, &base, "/queues").await;
    mark(&b).await;
    b.click_css(
        &format!("{row} button[data-action='resume']"),
        Duration::from_secs(5),
    )
    .await;
    b.wait_css(&format!("{row} .s-running"), Duration::from_secs(3))
        .await;
    let done = app.wait_done(&waiting).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"], json!(1));
    b.wait_text(
        &format!("{row} td:nth-child(2)"),
        Duration::from_secs(3),
        |t| t.trim() == "0",
    )
    .await;
    assert_marked(&b, "resuming from the Queues page").await;
    assert_eq!(app.state(&doomed).await["state"], "cancelled");
    assert_eq!(
        app.queue(PAUSE).await.map(|q| q["paused"].clone()),
        Some(json!(false))
    );
    b.close().await;
    app.stop().await;
}

// --- bulk actions on the Tasks page ----------------------------------------------------------

/// The queue of `job`, paused while the page acts on it.
const BULK: &str = "web-bulk";

/// Whether `job`'s group `d` succeeds yet.
static BULK_HEALED: AtomicBool = AtomicBool::new(false);

/// A job of a group; group `d` fails until healed (one attempt: straight to dead letters).
#[taskq::task(queue = "web-bulk", max_attempts = 1)]
async fn job(group: String, n: u32) -> Result<u32, String> {
    if group == "d" && !BULK_HEALED.load(Ordering::SeqCst) {
        Err(format!("job d{n} is not healed yet"))
    } else {
        Ok(n)
    }
}

/// Filters the Tasks page (through its form) by `state` and `args`; waits for `n` matching.
async fn filter_tasks(b: &Browser, state: &str, args: &str, n: usize) {
    b.wait_css("form.filters select[name='state']", Duration::from_secs(5))
        .await
        .select_by_value(state)
        .await
        .expect("pick the state");
    let field = b
        .wait_css("form.filters input[name='args']", Duration::from_secs(5))
        .await;
    field.clear().await.expect("clear");
    field.send_keys(args).await.expect("type the filter");
    b.click_css("form.filters button[type='submit']", Duration::from_secs(5))
        .await;
    wait_live(b).await;
    let want = format!("{n} matching");
    b.wait_text("#scanned", Duration::from_secs(5), |t| t.starts_with(&want))
        .await;
    let url = b.client.current_url().await.expect("url");
    assert!(
        url.query().is_some_and(|q| q.contains("args=")),
        "the filter is in the address: {url}"
    );
}

/// Clicks the bulk `action` with no selection; checks the confirmation names `n`; waits for
/// the result's toast.
async fn act_on_all(b: &Browser, action: &str, n: usize) -> String {
    b.click_css(
        &format!("#bulk button[data-bulk='{action}']"),
        Duration::from_secs(5),
    )
    .await;
    let want = format!("all {n} task");
    let text = confirm(b, |t| t.contains(&want)).await;
    b.wait_text("#toast .msg:last-child", Duration::from_secs(5), |t| {
        t.contains(&format!("{n} done"))
    })
    .await;
    text
}

async fn states(app: &App, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let s = app.state(id).await;
        out.push(s["state"].as_str().unwrap_or("?").to_owned());
    }
    out
}

async fn assert_dead(app: &App, ids: &[String], what: &str) {
    let dead: Vec<String> = app
        .client
        .backend()
        .dead_letters(BULK, 100)
        .await
        .expect("dead letters")
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    assert!(
        ids.iter().all(|id| dead.contains(id)),
        "{what}: expected every one dead; dead letters are {dead:?}"
    );
}

async fn assert_states(app: &App, ids: &[String], want: &str, what: &str) {
    let got = states(app, ids).await;
    assert!(
        got.iter().all(|s| s == want),
        "{what}: expected every one {want}, got {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_act_on_exactly_what_matches() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[BULK], |w| w).await;
    let base = app.base.clone();
    let job = name_of::<job>();
    // Four dead letters of group d.
    let mut d = Vec::new();
    for n in 0..4 {
        d.push(app.submit(job, json!({"group": "d", "n": n})).await);
    }
    for id in &d {
        app.wait_done(id).await;
    }
    app.wait_queue(BULK, Duration::from_secs(5), |q| q["dead"] == 4)
        .await;
    // Paused, with its worker running: 20 tasks stay ready (7 of a, 8 of b, 5 of c).
    app.post(&format!("/api/queues/{BULK}/pause")).await;
    let (mut a, mut bb, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..20u32 {
        let (group, into) = match n % 4 {
            0 | 1 if a.len() < 7 => ("a", &mut a),
            _ if c.len() < 5 && n % 4 == 3 => ("c", &mut c),
            _ => ("b", &mut bb),
        };
        into.push(app.submit(job, json!({"group": group, "n": n})).await);
    }
    assert_eq!((a.len(), bb.len(), c.len()), (7, 8, 5));
    app.wait_queue(BULK, Duration::from_secs(5), |q| q["ready"] == 20)
        .await;

    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.admin).await;
    open(&b, &base, &format!("/tasks?queue={BULK}")).await;
    b.wait_text("#scanned", Duration::from_secs(5), |t| {
        t.starts_with("24 matching")
    })
    .await;

    // Revoke all matching group=a: 7.
    filter_tasks(&b, "queued", "group=a", 7).await;
    b.wait_text("#bulk-count", Duration::from_secs(3), |t| {
        t.contains("all 7 matching")
    })
    .await;
    b.screenshot("tasks-filtered").await;
    act_on_all(&b, "revoke", 7).await;
    assert_states(&app, &a, "cancelled", "group a after revoke all matching").await;
    assert_states(&app, &bb, "pending", "group b after revoking group a").await;
    assert_states(&app, &c, "pending", "group c after revoking group a").await;
    assert_dead(&app, &d, "group d after revoking group a").await;

    // Delete all matching group=c (admin): 5.
    filter_tasks(&b, "queued", "group=c", 5).await;
    act_on_all(&b, "delete", 5).await;
    assert_states(&app, &c, "cancelled", "group c after delete all matching").await;
    assert_states(&app, &bb, "pending", "group b after deleting group c").await;

    // Retry all matching dead group=d: 4, requeued into the paused queue.
    BULK_HEALED.store(true, Ordering::SeqCst);
    filter_tasks(&b, "dead", "group=d", 4).await;
    act_on_all(&b, "retry", 4).await;
    assert_states(&app, &d, "pending", "group d after retry all matching").await;
    assert_states(&app, &bb, "pending", "group b after retrying group d").await;
    app.wait_queue(BULK, Duration::from_secs(5), |q| q["dead"] == 0)
        .await;

    // A selection: two of group b, revoked; the other six stay.
    filter_tasks(&b, "ready", "group=b", 8).await;
    // The ids listed, read in one go (a live refresh may replace the rows at any time; the
    // selection survives it, and each click finds its checkbox afresh).
    let listed = b
        .js("return Array.from(document.querySelectorAll('#tasks input.pick')).map(function (x) { return x.value; });")
        .await;
    let listed: Vec<String> = serde_json::from_value(listed).expect("a list of ids");
    assert_eq!(listed.len(), 8, "one checkbox per listed task");
    let picked: Vec<String> = listed[..2].to_vec();
    for id in &picked {
        b.click_css(
            &format!("#tasks input.pick[value='{id}']"),
            Duration::from_secs(5),
        )
        .await;
    }
    b.wait_text("#bulk-count", Duration::from_secs(3), |t| {
        t.starts_with("2 selected")
    })
    .await;
    b.click_css("#bulk button[data-bulk='revoke']", Duration::from_secs(5))
        .await;
    confirm(&b, |t| t.contains("2 selected tasks")).await;
    b.wait_text("#toast .msg:last-child", Duration::from_secs(5), |t| {
        t.contains("2 done")
    })
    .await;
    let rest: Vec<String> = bb
        .iter()
        .filter(|id| !picked.contains(id))
        .cloned()
        .collect();
    assert_eq!(rest.len(), 6, "the picked ids are of group b: {picked:?}");
    assert_states(&app, &picked, "cancelled", "the selection after revoke").await;
    assert_states(&app, &rest, "pending", "the rest of group b").await;
    b.wait_text("#scanned", Duration::from_secs(5), |t| {
        t.starts_with("6 matching")
    })
    .await;
    b.screenshot("tasks-bulk-done").await;
    b.close().await;
    app.stop().await;
}

// --- the Overview under a flood --------------------------------------------------------------

/// The flood's queue.
const FLOOD: &str = "web-flood";
/// Tasks the flood's worker ran.
static FLOODED: AtomicU64 = AtomicU64::new(0);
/// The flood's target rate, tasks per second.
const FLOOD_RATE: u64 = 10_000;
/// How long the flood lasts.
const FLOOD_FOR: Duration = Duration::from_secs(5);

/// Does nothing, counted.
#[taskq::task(queue = "web-flood", ignore_result)]
async fn flood(n: u64) {
    let _ = n;
    FLOODED.fetch_add(1, Ordering::Relaxed);
}

/// In the page: a 100 ms ticker noting its largest gap, a count of the stream's messages by
/// type (an EventSource on the page's own stream URL), and of fragment re-fetches.
const PROBE: &str = r#"
var p = window.__probe = {gap: 0, ticks: 0, msgs: {tick: 0, changed: 0, message: 0}, swaps: 0,
                          since: performance.now(), open: false};
var last = performance.now();
setInterval(function () {
  var now = performance.now();
  p.gap = Math.max(p.gap, now - last);
  last = now;
  p.ticks++;
}, 100);
var es = new EventSource(document.body.getAttribute("sse-connect"));
es.onopen = function () { p.open = true; };
["tick", "changed", "message"].forEach(function (k) {
  es.addEventListener(k, function () { p.msgs[k]++; });
});
document.addEventListener("htmx:afterSwap", function () { p.swaps++; });
return true;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_stays_responsive_under_a_flood() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[FLOOD], |w| w.concurrency(8).prefetch(512)).await;
    let base = app.base.clone();
    // The queue made known before the page opens.
    app.client.send(flood::new(0)).await.expect("send");
    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.viewer).await;
    open(&b, &base, "/").await;
    b.wait_css("#workers-up", Duration::from_secs(10)).await;
    b.js(PROBE).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.js("return window.__probe.open;").await != json!(true) {
        assert!(
            Instant::now() < deadline,
            "the probe's EventSource did not open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ran_before = FLOODED.load(Ordering::Relaxed);

    // The producer: batches of 500 paced to FLOOD_RATE, or as fast as it goes.
    let producer = {
        let client = app.client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut sent = 0u64;
            while started.elapsed() < FLOOD_FOR {
                let due = Duration::from_secs_f64(sent as f64 / FLOOD_RATE as f64);
                if let Some(ahead) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(ahead).await;
                }
                client
                    .send_many((sent..sent + 500).map(flood::new))
                    .await
                    .expect("send the flood");
                sent += 500;
            }
            (sent, started.elapsed())
        })
    };
    let flood_started = Instant::now();
    tokio::time::sleep(FLOOD_FOR - Duration::from_millis(1500)).await;
    let probe = b
        .js(
            "var p = window.__probe; return {gap: p.gap, ticks: p.ticks, msgs: p.msgs, \
             swaps: p.swaps, secs: (performance.now() - p.since) / 1000};",
        )
        .await;
    let ran = FLOODED.load(Ordering::Relaxed) - ran_before;
    b.screenshot("overview-flood").await;
    // A click on a nav link, under the flood, navigates within a second.
    let clicked = Instant::now();
    b.client
        .find(Locator::Css("header nav a[href='/queues']"))
        .await
        .expect("the Queues link")
        .click()
        .await
        .expect("click Queues");
    b.wait_css(
        "header nav a.active[href='/queues']",
        Duration::from_secs(5),
    )
    .await;
    let nav = clicked.elapsed();
    let still_flooding = flood_started.elapsed() < FLOOD_FOR;
    let (sent, took) = producer.await.expect("the producer");
    let rate = sent as f64 / took.as_secs_f64();
    let ran_rate = ran as f64
        / flood_started
            .elapsed()
            .as_secs_f64()
            .min(FLOOD_FOR.as_secs_f64());
    eprintln!(
        "flood: sent {sent} in {took:?} ({rate:.0}/s, target {FLOOD_RATE}/s); the worker ran \
         {ran} while the page was measured ({ran_rate:.0}/s); page probe {probe}; nav {nav:?}"
    );

    let secs = probe["secs"].as_f64().expect("seconds");
    let gap = probe["gap"].as_f64().expect("gap");
    let ticks = probe["msgs"]["tick"].as_f64().expect("ticks");
    let changed = probe["msgs"]["changed"].as_f64().expect("changed");
    let other = probe["msgs"]["message"].as_f64().expect("messages");
    let context = format!(
        "(flood at {rate:.0} tasks/s sent, target {FLOOD_RATE}/s; {ran} run while measured; \
         probe {probe})"
    );
    assert!(
        rate >= 2_000.0,
        "the producer reached only {rate:.0} tasks/s: too little to call a flood {context}"
    );
    assert!(
        ran >= 2_000,
        "the worker ran only {ran} tasks while the page was measured {context}"
    );
    assert!(
        gap <= 1000.0,
        "the page's event loop stalled {gap:.0} ms (at most 1 s) {context}"
    );
    assert!(
        still_flooding,
        "the nav click was measured after the flood ended {context}"
    );
    assert!(
        nav <= Duration::from_secs(1),
        "a nav click took {nav:?} to navigate under the flood (at most 1 s) {context}"
    );
    assert!(
        ticks >= (secs - 2.0).floor() && ticks <= secs.ceil() + 1.0,
        "{ticks} ticks in {secs:.1} s: about one a second expected {context}"
    );
    assert!(
        changed <= 4.0 * secs.ceil() + 1.0,
        "{changed} change signals in {secs:.1} s: at most 4 a second {context}"
    );
    assert_eq!(other, 0.0, "unnamed messages on the stream {context}");
    let messages = ticks + changed + other;
    assert!(
        messages * 100.0 < ran as f64,
        "{messages} stream messages for {ran} tasks run: the stream is not aggregated {context}"
    );
    drop(b);
    app.stop().await;
}

// --- on a phone ------------------------------------------------------------------------------

/// Has a long argument, for a wide Tasks table.
#[taskq::task(queue = "web-phone")]
async fn notify(recipient: String, subject: String, body: String) -> usize {
    recipient.len() + subject.len() + body.len()
}

/// Asserts the page is no wider than the viewport.
async fn assert_fits(b: &Browser, page: &str) {
    let v = b
        .js(
            "return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, \
             body: document.body.scrollWidth};",
        )
        .await;
    let (scroll, inner) = (
        v["scroll"].as_f64().expect("scrollWidth"),
        v["inner"].as_f64().expect("innerWidth"),
    );
    assert_eq!(inner, 390.0, "the phone's viewport is 390 px wide: {v}");
    assert!(
        scroll <= inner,
        "{page} overflows horizontally on a phone: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone() {
    let _one = SERIAL.lock().await;
    // Nobody serves web-phone: its tasks stay listed.
    let app = App::start(&[FLOOD], |w| w).await;
    let base = app.base.clone();
    let mut last = String::new();
    for i in 0..6 {
        last = app
            .submit(
                name_of::<notify>(),
                json!({
                    "recipient": format!("someone.with.a.long.address.{i}@example.com"),
                    "subject": "Your weekly report of everything that happened in the queues",
                    "body": "x".repeat(300),
                }),
            )
            .await;
    }
    app.client.send(flood::new(1)).await.expect("send");
    let b = Browser::phone(390, 844).await;
    login(&b, &base, &app.admin).await;
    for (path, shot) in [
        ("/", Some("overview-phone")),
        ("/tasks", Some("tasks-phone")),
        ("/queues", None),
        ("/dead", None),
        ("/workers", None),
        (&*format!("/tasks/{last}"), Some("task-phone")),
    ] {
        open(&b, &base, path).await;
        if path == "/" {
            b.wait_css("#workers-up", Duration::from_secs(10)).await;
        }
        if path == "/tasks" {
            b.wait_css(
                &format!("#tasks tr[data-id='{last}']"),
                Duration::from_secs(5),
            )
            .await;
        }
        assert_fits(&b, path).await;
        if let Some(name) = shot {
            b.screenshot(name).await;
        }
    }
    b.close().await;
    app.stop().await;
}

// --- a workflow's graph on a step's page -------------------------------------------------------

/// The queue of the workflow's steps (served).
const FLOW: &str = "web-flow";
/// The queue of one step of the chord's header, paused while its page is looked at.
const GATE: &str = "web-flow-gate";

/// Squares.
#[taskq::task(queue = "web-flow")]
async fn square(n: u32) -> u32 {
    n * n
}

/// Sums.
#[taskq::task(queue = "web-flow")]
async fn total_of(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

/// A chord: three squares in parallel (the last on the gated queue), then their sum.
#[taskq::workflow]
fn squares(n: u32) -> impl taskq::canvas::Canvas<Output = u32> {
    taskq::canvas::chord(
        taskq::canvas::group(vec![
            square::new(n),
            square::new(n + 1),
            square::new(n + 2).queue(GATE),
        ]),
        total_of::partial(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_step_shows_its_graph_live() {
    let _one = SERIAL.lock().await;
    let app = App::start(&[FLOW, GATE], |w| w).await;
    let base = app.base.clone();
    // The gated queue made known and paused.
    let warm = app
        .submit(
            name_of::<square>(),
            json!({"n": 1, "options": {"queue": GATE}}),
        )
        .await;
    app.wait_done(&warm).await;
    app.post(&format!("/api/queues/{GATE}/pause")).await;
    let name = <squares as taskq::canvas::Workflow>::NAME;
    let r = app
        .http
        .post(app.url(&format!("/api/workflows/{name}")))
        .bearer_auth(&app.operator)
        .json(&json!({"n": 2}))
        .send()
        .await
        .expect("start the workflow");
    assert_eq!(r.status().as_u16(), 202);
    let started: Value = r.json().await.expect("JSON");
    let result_id = started["id"]
        .as_str()
        .expect("the workflow's id")
        .to_owned();
    app.wait_queue(GATE, Duration::from_secs(5), |q| q["ready"] == 1)
        .await;
    let listed = app
        .get(&format!("/api/queues/{GATE}/tasks?state=ready"))
        .await;
    let gate = listed["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the gated step is not listed: {listed}"))
        .to_owned();

    let b = Browser::start(1280, 900).await;
    login(&b, &base, &app.operator).await;
    open(&b, &base, &format!("/tasks/{gate}")).await;
    b.wait_css("#workflow a.step", Duration::from_secs(5)).await;
    // The graph from this step on: this step (a header member of the chord), then the sum
    // (the workflow's result), each with its state.
    let steps = b
        .js(
            "return Array.from(document.querySelectorAll('#workflow a.step')).map(function (s) { \
             return {href: s.getAttribute('href'), state: s.dataset.state, \
             cls: s.className, text: s.innerText}; });",
        )
        .await;
    let steps = steps.as_array().expect("a list of steps");
    assert_eq!(steps.len(), 2, "this step and the sum: {steps:?}");
    assert_eq!(
        steps[0]["href"],
        json!(format!("/tasks/{gate}")),
        "{steps:?}"
    );
    assert_eq!(steps[0]["state"], "pending", "{steps:?}");
    assert!(
        steps[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains(name_of::<square>()) && t.contains(name_of::<total_of>())),
        "the step names itself and where it leads: {steps:?}"
    );
    assert_eq!(
        steps[1]["href"],
        json!(format!("/tasks/{result_id}")),
        "{steps:?}"
    );
    assert!(
        steps[1]["text"]
            .as_str()
            .is_some_and(|t| t.contains("(result)")),
        "the sum is the workflow's result: {steps:?}"
    );
    assert!(
        steps
            .iter()
            .all(|s| s["cls"].as_str().is_some_and(|c| c.contains("s-pending"))),
        "each step is styled by its state: {steps:?}"
    );
    b.screenshot("workflow").await;
    // The gate opens: this step runs, then the sum; the page follows.
    mark(&b).await;
    app.post(&format!("/api/queues/{GATE}/resume")).await;
    let done = app.wait_done(&result_id).await;
    assert_eq!(done["result"], json!(4 + 9 + 16), "{done}");
    b.wait_css(
        "#task-state[data-state='succeeded']",
        Duration::from_secs(5),
    )
    .await;
    assert_marked(&b, "a workflow step's page").await;
    b.screenshot("workflow-done").await;
    b.close().await;
    app.stop().await;
}
