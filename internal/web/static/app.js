// ekbom progressive enhancement. Everything works without this file:
// the IRLS total is also computed by the server, "add row" buttons submit the
// form, and browsers can print from their menu.
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");

  // Print buttons (a#print with data-print).
  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
  });

  // Live IRLS total and band.
  var irls = document.getElementById("irls");
  var totalOut = document.getElementById("irls-total");
  var bandOut = document.getElementById("irls-band");
  if (irls && totalOut && bandOut) {
    var bands = [];
    try { bands = JSON.parse(irls.getAttribute("data-bands") || "[]"); } catch (e) { bands = []; }
    var update = function () {
      var total = 0, answered = 0;
      for (var i = 1; i <= 10; i++) {
        var c = irls.querySelector('input[name="irls_' + i + '"]:checked');
        if (c) { answered++; total += parseInt(c.value, 10); }
      }
      if (answered === 0) { totalOut.textContent = "–"; bandOut.textContent = "not scored"; return; }
      if (answered < 10) { totalOut.textContent = total + " so far"; bandOut.textContent = answered + " of 10 answered"; return; }
      totalOut.textContent = String(total);
      var name = "";
      bands.forEach(function (b) { if (total >= b.Min && total <= b.Max) { name = b.Name; } });
      bandOut.textContent = name.replace(/_/g, " ");
    };
    irls.addEventListener("change", update);
    update();
  }

  // Unit selects offer only the units of the chosen test.
  var filterUnits = function (row) {
    var test = row.querySelector("select.lab-test");
    var unit = row.querySelector("select.lab-unit");
    if (!test || !unit) { return; }
    var t = test.value;
    unit.querySelectorAll("optgroup").forEach(function (g) {
      var show = !t || g.getAttribute("data-test") === t;
      g.hidden = !show; g.disabled = !show;
    });
    var sel = unit.options[unit.selectedIndex];
    if (sel && sel.parentNode.tagName === "OPTGROUP" && sel.parentNode.disabled) { unit.value = ""; }
    // A test with a single unit (TSAT: %) gets it selected.
    if (t && unit.value === "") {
      var only = unit.querySelectorAll('optgroup[data-test="' + t + '"] option');
      if (only.length === 1) { only[0].selected = true; }
    }
  };
  document.querySelectorAll(".lab-row").forEach(filterUnits);
  document.addEventListener("change", function (e) {
    if (e.target.classList && e.target.classList.contains("lab-test")) { filterUnits(e.target.closest(".lab-row")); }
  });

  // "Add row" clones the row template instead of submitting.
  document.querySelectorAll("button.add-row").forEach(function (btn) {
    btn.addEventListener("click", function (e) {
      var list = btn.getAttribute("data-list");
      var rows = document.getElementById(list + "-rows");
      var tpl = document.getElementById(list + "-template");
      if (!rows || !tpl) { return; }
      e.preventDefault();
      var next = 0;
      rows.querySelectorAll("[data-row]").forEach(function (r) {
        next = Math.max(next, parseInt(r.getAttribute("data-row"), 10) + 1);
      });
      var html = tpl.innerHTML.replace(/__i__/g, String(next));
      rows.insertAdjacentHTML("beforeend", html);
      var added = rows.lastElementChild;
      if (added) {
        if (added.classList.contains("lab-row")) { filterUnits(added); }
        var f = added.querySelector("input, select");
        if (f) { f.focus(); }
      }
    });
  });

  // Forms that delete ask first (without JavaScript they do not).
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });

  // Move focus to the error summary after a rejected submit.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
