// The organisers' job board: polls /api/organiser/jobs and redraws the counts, the stage
// runs and the job table in place (no reload), with a retry button on each failed job.
// Built with DOM calls and textContent only: job errors are text, never markup. The words
// for states, kinds and buttons come from the page (data-words), in the reader's language.
(function () {
  "use strict";
  var board = document.getElementById("job-board");
  if (!board) return;
  var csrf = (document.querySelector("input[name=csrf]") || {}).value || "";
  var STATES = ["queued", "running", "done", "failed"];
  var WORDS = JSON.parse(board.dataset.words || "{}");
  function word(group, code) { return ((WORDS[group] || {})[code]) || code; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function retryForm(job) {
    var form = el("form", "inline");
    form.method = "post";
    form.action = "/organiser/rounds/" + encodeURIComponent(job.round) + "/stages/" + encodeURIComponent(job.stage) + "/retry";
    var token = el("input");
    token.type = "hidden"; token.name = "csrf"; token.value = csrf;
    var button = el("button", "secondary retry", WORDS.retry || "Retry");
    button.type = "submit";
    form.appendChild(token); form.appendChild(button);
    return form;
  }

  function draw(doc) {
    var counts = document.getElementById("job-counts");
    counts.replaceChildren.apply(counts, STATES.map(function (s) {
      return el("span", "badge " + s, word("states", s) + " " + (doc.counts[s] || 0));
    }));
    var runs = document.getElementById("stage-runs");
    runs.replaceChildren.apply(runs, doc.stages.map(function (s) {
      var p = el("p", "stage-run " + s.state);
      p.dataset.stage = s.stage;
      p.appendChild(el("span", "badge " + s.state, word("kinds", s.stage) + " · " + s.round + " · " + word("states", s.state)));
      p.appendChild(document.createTextNode(" "));
      p.appendChild(el("span", "ci", s.summary || s.error));
      return p;
    }));
    var rows = document.getElementById("job-rows");
    var failedStages = {};
    rows.replaceChildren.apply(rows, doc.jobs.slice().reverse().map(function (j) {
      var tr = el("tr", "job " + j.state);
      var what = el("td", null, j.description + " ");
      what.appendChild(el("span", "muted", word("kinds", j.kind)));
      tr.appendChild(what);
      tr.appendChild(el("td", null, j.team || "—"));
      var state = el("td");
      state.appendChild(el("span", "badge " + j.state, word("states", j.state)));
      if (j.attempts > 1) state.appendChild(el("span", "muted", " ×" + j.attempts));
      if (j.retry_requested) {
        state.appendChild(document.createTextNode(" "));
        state.appendChild(el("span", "badge pending", WORDS.retry_requested || "retry requested"));
      }
      tr.appendChild(state);
      tr.appendChild(el("td", "num", j.total ? (j.completed || 0) + "/" + j.total : ""));
      tr.appendChild(el("td", "ci", j.error || ""));
      var action = el("td");
      var key = j.round + "/" + j.stage;
      if (j.state === "failed" && j.stage && j.round && !failedStages[key]) {
        failedStages[key] = true;  // one retry per stage: it reruns every failed job of it
        action.appendChild(retryForm(j));
      }
      tr.appendChild(action);
      return tr;
    }));
    var busy = doc.stages.some(function (s) { return s.state === "running"; }) ||
      (doc.counts.running || 0) + (doc.counts.queued || 0) > 0;
    board.dataset.busy = busy ? "yes" : "no";
    return busy;
  }

  function poll() {
    fetch(board.dataset.source, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (doc) { setTimeout(poll, draw(doc) ? 1000 : 5000); })
      .catch(function () { setTimeout(poll, 10000); });
  }
  poll();
})();
