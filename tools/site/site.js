// Printing: open every folded block (reference code, figures as text) so paper shows it all.
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (d) {
    if (!d.open) { d.dataset.closed = "1"; d.open = true; }
  });
});
window.addEventListener("afterprint", function () {
  document.querySelectorAll("details[data-closed]").forEach(function (d) {
    d.open = false; delete d.dataset.closed;
  });
});
// On a narrow screen the page's contents start folded.
if (window.matchMedia("(max-width: 60rem)").matches) {
  var t = document.querySelector("nav.toc details");
  if (t) t.open = false;
}
