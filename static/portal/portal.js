// Reveal and copy activation codes. The buttons are shown only where this script runs;
// without it the codes stay masked, and everything else in the portal still works.
document.querySelectorAll("[data-reveal], [data-copy]").forEach((button) => { button.hidden = false; });
document.addEventListener("click", (event) => {
  const reveal = event.target.closest("[data-reveal]");
  if (reveal) {
    const cell = reveal.closest("td");
    const shown = reveal.getAttribute("aria-expanded") === "true";
    cell.querySelector("[data-code-full]").hidden = shown;
    cell.querySelector("[data-code-masked]").hidden = !shown;
    reveal.setAttribute("aria-expanded", String(!shown));
    reveal.firstChild.textContent = shown ? "Reveal" : "Hide";
    return;
  }
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const status = copy.parentElement.querySelector(".copied");
    const done = (text) => { status.textContent = text; setTimeout(() => { status.textContent = ""; }, 3000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(copy.dataset.copy).then(() => done("Copied"), () => done("Copy failed"));
    } else {
      // Plain http on a LAN: the clipboard API is unavailable; select the code instead.
      const cell = copy.closest("td");
      cell.querySelector("[data-code-full]").hidden = false;
      cell.querySelector("[data-code-masked]").hidden = true;
      const range = document.createRange();
      range.selectNodeContents(cell.querySelector("[data-code-full]"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      done(document.execCommand("copy") ? "Copied" : "Selected: press Ctrl+C");
    }
  }
});
