// Live decisions: prepends each decision the server sends (server-sent
// events) to the table. The filter is applied by the server.
(function () {
  "use strict";
  var table = document.getElementById("decisions");
  var status = document.getElementById("live-status");
  if (!table || !table.dataset.events || !window.EventSource) {
    return;
  }
  var body = table.tBodies[0];
  var maxRows = 200;
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }
  var es = new EventSource(table.dataset.events);
  es.onopen = function () { status.textContent = "live"; status.className = "status on"; };
  es.onerror = function () { status.textContent = "reconnecting…"; status.className = "status off"; };
  es.addEventListener("decision", function (ev) {
    var d = JSON.parse(ev.data);
    var tr = document.createElement("tr");
    tr.className = d.result + " new";
    tr.dataset.callId = d.call_id;
    cell(tr, d.at);
    var a = document.createElement("a");
    a.href = d.link;
    a.textContent = d.user + "@" + d.domain;
    cell(tr, "").appendChild(a);
    cell(tr, d.caller + " → " + d.number);
    cell(tr, d.source_ip);
    cell(tr, d.result, "result");
    cell(tr, d.code);
    cell(tr, d.reason, "wide");
    cell(tr, d.call_id, "wide");
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > maxRows) {
      body.deleteRow(body.rows.length - 1);
    }
  });
})();
