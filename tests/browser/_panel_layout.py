"""What the layout checks of the panel share, in JupyterLab and in Voila (both put an output
in a ``.jp-OutputArea-output``): JavaScript run in the page with ``page.evaluate``."""

# Every problem with the panel's boxes, as sentences (an empty list: nothing is cut).
CUT = """
() => {
  const panel = document.querySelector('.luma-nb-panel');
  const out = panel.closest('.jp-OutputArea-output');
  const pr = panel.getBoundingClientRect();
  const or = out.getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + '.' + Array.from(el.classList).join('.')
    + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  const problems = [];
  if (out.scrollWidth > out.clientWidth + 1)
    problems.push(`the output area scrolls sideways: ${out.scrollWidth} > ${out.clientWidth}`);
  if (pr.right > or.right + 1)
    problems.push(`the panel ends at ${pr.right}, its output at ${or.right}`);
  for (const el of panel.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < pr.left - 1 || r.right > pr.right + 1)
      problems.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}, `
        + `the panel ${Math.round(pr.left)}..${Math.round(pr.right)}`);
  }
  const named = {
    'Enhancement': Array.from(panel.querySelectorAll('.widget-checkbox'))
      .filter((e) => e.textContent.includes('Enhancement')),
    'Cancel': Array.from(panel.querySelectorAll('.luma-nb-cancel')),
    'task id': Array.from(panel.querySelectorAll('.luma-nb-job-task')),
    'Local file': Array.from(panel.querySelectorAll('.luma-nb-file button')),
    'Restore': Array.from(panel.querySelectorAll('.luma-nb-history-row button')),
  };
  for (const [what, elements] of Object.entries(named)) {
    if (!elements.length) problems.push(`no ${what} on the page`);
    for (const el of elements) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) problems.push(`${what} has no width`);
      if (r.left < Math.max(pr.left, 0) - 1 || r.right > Math.min(pr.right, vw) + 1)
        problems.push(`${what} spans ${Math.round(r.left)}..${Math.round(r.right)} (panel `
          + `${Math.round(pr.left)}..${Math.round(pr.right)}, viewport ${vw})`);
      for (const t of [el, ...el.querySelectorAll('*')]) {
        if (t.scrollWidth > t.clientWidth + 1 && getComputedStyle(t).overflowX !== 'visible')
          problems.push(`${what}'s text is cut: ${name(t)} ${t.scrollWidth} > ${t.clientWidth}`);
      }
    }
  }
  return problems.slice(0, 25);
}
"""

RESULT_BOXES = """
() => Array.from(document.querySelectorAll('.luma-nb-panel .luma-nb-result')).map((el) => {
  const r = el.getBoundingClientRect();
  return {left: r.left, top: r.top, width: r.width};
})
"""
