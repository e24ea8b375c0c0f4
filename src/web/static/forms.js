// The decision form asks for a reason when the category chosen differs from the proposal
// under the chosen standard: the reason field shows and becomes required. Without this
// script the field is always shown and the API asks for the reason when it is missing.
(function () {
  "use strict";
  var form = document.getElementById("decision-form");
  if (!form) { return; }
  var proposals = {};
  try { proposals = JSON.parse(form.getAttribute("data-proposals") || "{}"); } catch (e) { return; }
  var standard = form.querySelector("[name=standard]");
  var category = form.querySelector("[name=category]");
  var field = document.getElementById("reason-field");
  var reason = form.querySelector("[name=reason]");
  if (!standard || !category || !field || !reason) { return; }
  function update() {
    var proposed = proposals[standard.value];
    var differs = proposed !== undefined && proposed !== category.value;
    field.hidden = !differs && !field.classList.contains("asked");
    reason.required = differs;
  }
  standard.addEventListener("change", update);
  category.addEventListener("change", update);
  update();
})();
