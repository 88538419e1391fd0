// difflore console: an optional keyboard path through the review queue (the pages work without
// it). j / k move between rules, a approves, r rejects (asks for a reason first), e opens the edit.
(function () {
  "use strict";
  var rules = Array.prototype.slice.call(document.querySelectorAll("article.rule"));
  if (!rules.length || !document.querySelector("form.decide")) { return; }
  var at = 0;
  function focus(i) {
    at = Math.max(0, Math.min(rules.length - 1, i));
    rules.forEach(function (r) { r.classList.remove("current"); });
    rules[at].classList.add("current");
    rules[at].focus({ preventScroll: true });
    rules[at].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    var rule = rules[at];
    if (ev.key === "j") { focus(at + 1); }
    else if (ev.key === "k") { focus(at - 1); }
    else if (ev.key === "a") {
      var ok = rule.querySelector('button[data-key="a"]');
      if (ok) { ok.click(); }
    } else if (ev.key === "r") {
      var reason = rule.querySelector("input.reason");
      if (reason) { ev.preventDefault(); reason.focus(); }
    } else if (ev.key === "e") {
      var d = rule.querySelector("details.edit");
      if (d) { d.open = true; var f = d.querySelector("input,textarea"); if (f) { ev.preventDefault(); f.focus(); } }
    } else { return; }
  });
  focus(0);
})();
