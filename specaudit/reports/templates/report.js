(function () {
  "use strict";
  // Sortable tables: click a column header; numbers sort by data-sort, n/a last.
  function sortKey(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === "") { return null; }
    if (raw !== null) {
      var number = parseFloat(raw);
      return isNaN(number) ? raw.toLowerCase() : number;
    }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(x, y, ascending) {
    if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
    var order;
    if (typeof x === "number" && typeof y === "number") { order = x - y; }
    else { order = String(x).localeCompare(String(y)); }
    return ascending ? order : -order;
  }
  function sortTable(table, column, header) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    rows.sort(function (a, b) {
      return compare(sortKey(a.cells[column]), sortKey(b.cells[column]), ascending);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      var button = th.querySelector("button.sort");
      if (button) {
        button.addEventListener("click", function () { sortTable(table, column, th); });
      }
    });
  });
  // Printing shows every collapsed example.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      d.setAttribute("open", "");
      d.setAttribute("data-print-opened", "");
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-print-opened]").forEach(function (d) {
      d.removeAttribute("open");
      d.removeAttribute("data-print-opened");
    });
  });
})();
