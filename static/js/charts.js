// 回音 Huiyin — the statistics dashboard's charts (Apache ECharts, vendored in static/vendor/echarts/).
// The numbers come from <script type="application/json" id="stats-chart-data"> (data, not code: the
// Content-Security-Policy allows no inline script). Every chart repeats a table printed under it,
// so the page reads the same without JavaScript; the chart boxes stay hidden until drawn here.
(function () {
  "use strict";
  var RED = "#b3261e", BLUE = "#0969da", GREY = "#8c959f";

  function readData() {
    var el = document.getElementById("stats-chart-data");
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif" },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      // richText: drawn on the canvas; an HTML tooltip would carry style="" attributes the CSP refuses.
      tooltip: { trigger: "axis", confine: true, renderMode: "richText" },
      legend: { top: 0 }
    };
  }

  var builders = {
    trend: function (d) {
      var o = base();
      o.xAxis = { type: "category", data: d.labels };
      o.yAxis = [{ type: "value", minInterval: 1 },
                 { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }];
      o.series = [
        { name: d.names[0], type: "bar", barMaxWidth: 28, data: d.registered, itemStyle: { color: GREY } },
        { name: d.names[1], type: "bar", barMaxWidth: 28, data: d.solved, itemStyle: { color: BLUE } },
        { name: d.names[2], type: "line", yAxisIndex: 1, data: d.rate, itemStyle: { color: RED }, connectNulls: true }
      ];
      return o;
    },
    overdue: function (d) {
      var o = base();
      o.legend = { show: false };
      o.grid.top = 8;
      o.xAxis = { type: "value", minInterval: 1 };
      o.yAxis = { type: "category", data: d.labels.slice().reverse() };
      o.series = [{ name: d.names[0], type: "bar", barMaxWidth: 28, data: d.values.slice().reverse(), itemStyle: { color: RED } }];
      return o;
    },
    categories: function (d) {
      var o = base();
      o.xAxis = { type: "category", data: d.labels, axisLabel: { interval: 0, rotate: d.labels.length > 6 ? 30 : 0 } };
      o.yAxis = { type: "value", minInterval: 1 };
      o.series = [
        { name: d.names[0], type: "bar", barMaxWidth: 28, data: d.total, itemStyle: { color: GREY } },
        { name: d.names[1], type: "bar", barMaxWidth: 28, data: d.solved, itemStyle: { color: BLUE } }
      ];
      return o;
    }
  };

  function draw() {
    if (!window.echarts) return;
    var data = readData();
    if (!data) return;
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var name = box.getAttribute("data-chart");
      if (!builders[name] || !data[name]) return;
      box.hidden = false;
      var chart = window.echarts.init(box, null, { renderer: "canvas" });
      chart.setOption(builders[name](data[name]));
      charts.push(chart);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.clearTimeout(pending);
      pending = window.setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
