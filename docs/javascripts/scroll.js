// A block wider than the screen scrolls sideways inside the page. Mark each one that does
// (equations, tables, diagrams) so that the stylesheet shows it: a shadow at the edge that
// hides more, and a hint under the block. Rechecked on every page load and resize.
var SCROLLERS = "div.arithmatex, .md-typeset__scrollwrap, figure.diagram > p";
// The hint in the page's language (each edition's <html lang>), English where it has none.
var SCROLL_HINTS = {
  en: "\u21c6 wider than the screen: scroll sideways",
  zh: "\u21c6 比屏幕宽：左右滑动查看",
};

function markScrollers() {
  document.querySelectorAll(SCROLLERS).forEach(function (element) {
    var wider = element.scrollWidth > element.clientWidth + 1;
    element.classList.toggle("scrolls", wider);
    var hint = element.nextElementSibling;
    var hinted = hint !== null && hint.classList.contains("scroll-hint");
    if (wider && !hinted) {
      hint = document.createElement("div");
      hint.className = "scroll-hint";
      hint.setAttribute("aria-hidden", "true");
      hint.textContent = SCROLL_HINTS[document.documentElement.lang] || SCROLL_HINTS.en;
      element.after(hint);
    } else if (!wider && hinted) {
      hint.remove();
    }
  });
}

// After KaTeX has typeset the page (javascripts/katex.js runs first), again once its fonts
// have loaded (they change the widths), and on resize.
function markSoon() {
  requestAnimationFrame(markScrollers);
  document.fonts.ready.then(markScrollers);
}

if (typeof document$ !== "undefined") {
  document$.subscribe(markSoon);
} else {
  document.addEventListener("DOMContentLoaded", markSoon);
}
window.addEventListener("load", markScrollers);
window.addEventListener("resize", markScrollers);
