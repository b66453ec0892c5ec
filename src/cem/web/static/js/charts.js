/* Charts: every element with data-chart holds a JSON spec drawn with the locally served ECharts; every element with
   class "sparkline" holds a {"x": [...], "y": [...]} trend in data-trend (text explorer).
   The numbers come from the same answer as the table next to the chart, so the table is the source of truth.
   Kinds: band (lines with interval bands; compact: a tile's small trend), bar (bars with interval whiskers in the tooltip), funnel, quadrant,
   ranking (horizontal bars, the home page's feedback by source).

   Security: names in a spec (sources, channels, questions, touchpoints, stages, topics, segments...) are data anyone
   who can send feedback controls. ECharts renders tooltips as HTML, so every tooltip is built by a formatter here and
   every data-derived string in it goes through esc(); string templates such as "{b}" are never used, because ECharts
   inserts them unescaped. Labels, legends and axes are drawn on the canvas (or as SVG text) and are not HTML. */
(function () {
  "use strict";
  var PALETTE = ["#2f6fde", "#d9822b", "#2e9e6b", "#b84a8a", "#6b5fd3", "#8a8a8a"];

  // The one escape helper for HTML built from data: ECharts' own encoder (& < > " ' become entities).
  function esc(value) {
    return echarts.format.encodeHTML(value === null || value === undefined ? "" : String(value));
  }

  function fmt(value, unit) {
    if (value === null || value === undefined) { return "not enough data"; }
    var digits = unit === "points" || unit === "%" ? 1 : unit === "records" ? 0 : 2;
    return value.toFixed(digits) + (unit === "%" ? "%" : "");
  }

  function bandOption(spec) {
    var series = [];
    spec.series.forEach(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      var stack = "band-" + i;
      // The band is two stacked lines: the lower bound (invisible) and the width of the interval (shaded).
      series.push({
        name: s.name + " lower", type: "line", stack: stack, symbol: "none", silent: true,
        lineStyle: {opacity: 0}, data: s.lower, tooltip: {show: false}
      });
      series.push({
        name: s.name + " interval", type: "line", stack: stack, symbol: "none", silent: true,
        lineStyle: {opacity: 0}, areaStyle: {color: colour, opacity: 0.18}, tooltip: {show: false},
        data: s.upper.map(function (u, k) { return u === null || s.lower[k] === null ? null : u - s.lower[k]; })
      });
      series.push({
        name: s.name, type: "line", data: s.values, connectNulls: false, symbolSize: 7,
        itemStyle: {color: colour}, lineStyle: {color: colour, width: 2}
      });
    });
    // compact: a tile's small trend (home page), one series named by its tile, so no legend and light axes.
    var compact = Boolean(spec.compact);
    return {
      animation: false,
      tooltip: {trigger: "axis", formatter: function (items) { return tooltip(spec, items); }},
      legend: {data: spec.series.map(function (s) { return s.name; }), bottom: 0, show: !compact},
      grid: compact ? {left: 36, right: 12, top: 8, bottom: 22} : {left: 56, right: 20, top: 20, bottom: 56},
      xAxis: {type: "category", data: spec.x, boundaryGap: false},
      yAxis: compact ? {type: "value", scale: true, splitNumber: 2} : {type: "value", scale: true},
      series: series
    };
  }

  function tooltip(spec, items) {
    var lines = [esc(items.length ? items[0].axisValue : "")];
    items.forEach(function (item) {
      var s = spec.series.filter(function (x) { return x.name === item.seriesName; })[0];
      if (!s) { return; }
      var k = item.dataIndex;
      // item.marker is ECharts' own coloured dot (no data in it).
      var text = item.marker + esc(s.name) + ": " + fmt(s.values[k], spec.unit);
      if (s.lower && s.lower[k] !== null && s.lower[k] !== undefined) {
        text += " [" + fmt(s.lower[k], spec.unit) + ", " + fmt(s.upper[k], spec.unit) + "]";
      }
      if (s.n) { text += " n=" + s.n[k]; }
      lines.push(text);
    });
    return lines.join("<br>");
  }

  function barOption(spec) {
    return {
      animation: false,
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, formatter: function (items) { return tooltip(spec, items); }},
      legend: {data: spec.series.map(function (s) { return s.name; }), bottom: 0},
      grid: {left: 56, right: 20, top: 20, bottom: 70, containLabel: true},
      xAxis: {type: "category", data: spec.x, axisLabel: {interval: 0, rotate: spec.x.length > 6 ? 30 : 0}},
      yAxis: {type: "value"},
      series: spec.series.map(function (s, i) {
        return {name: s.name, type: "bar", data: s.values, itemStyle: {color: PALETTE[i % PALETTE.length]}};
      })
    };
  }

  function funnelOption(spec) {
    return {
      animation: false,
      tooltip: {trigger: "item", formatter: function (p) { return esc(p.name) + ": " + esc(p.value) + " customers"; }},
      series: [{
        type: "funnel", sort: "none", left: "10%", width: "80%", top: 10, bottom: 10, gap: 2,
        label: {show: true, position: "inside", formatter: function (p) { return p.name + ": " + p.value; }},
        data: spec.x.map(function (name, i) { return {name: name, value: spec.values[i]}; })
      }]
    };
  }

  function quadrantOption(spec) {
    var colours = {key_strength: "#2e9e6b", priority: "#c0392b", secondary_strength: "#2f6fde", low_priority: "#8a8a8a"};
    return {
      animation: false,
      tooltip: {trigger: "item", formatter: function (p) {
        return esc(p.data.name) + "<br>importance " + p.data.value[1].toFixed(3) + "<br>performance " + p.data.value[0].toFixed(2);
      }},
      grid: {left: 64, right: 30, top: 20, bottom: 50},
      xAxis: {type: "value", name: "performance", nameLocation: "middle", nameGap: 28, scale: true},
      yAxis: {type: "value", name: "importance (Johnson weight)", nameLocation: "middle", nameGap: 46, scale: true},
      series: [{
        type: "scatter", symbolSize: 14,
        label: {show: true, position: "right", formatter: function (p) { return p.data.name; }},
        data: spec.points.map(function (p) {
          return {name: p.name, value: [p.x, p.y], itemStyle: {color: colours[p.quadrant] || "#555"}};
        }),
        markLine: {silent: true, symbol: "none", lineStyle: {type: "dashed", color: "#999"},
          data: [{xAxis: spec.x_mid}, {yAxis: spec.y_mid}]}
      }]
    };
  }

  function rankingOption(spec) {
    return {
      animation: false,
      tooltip: {trigger: "item", formatter: function (p) { return p.marker + esc(p.name) + ": " + esc(p.value); }},
      grid: {left: 140, right: 20, top: 10, bottom: 30},
      xAxis: {type: "value"},
      yAxis: {type: "category", data: spec.x},
      series: [{type: "bar", data: spec.values, itemStyle: {color: PALETTE[0]}}]
    };
  }

  var BUILDERS = {band: bandOption, bar: barOption, funnel: funnelOption, quadrant: quadrantOption, ranking: rankingOption};

  function addPngButton(el, chart) {
    var id = el.id || "chart";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small";
    button.textContent = "Download PNG";
    button.setAttribute("data-testid", "png-" + id);
    button.addEventListener("click", function () {
      var link = document.createElement("a");
      link.href = chart.getDataURL({type: "png", pixelRatio: 2, backgroundColor: "#fff"});
      link.download = id + ".png";
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    var holder = el.parentNode.querySelector("[data-chart-actions]");
    if (holder) { holder.appendChild(button); }
  }

  function draw(el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var build = BUILDERS[spec.kind];
    if (!build || typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(build(spec));
    window.cemCharts = window.cemCharts || {};
    window.cemCharts[el.id] = chart;
    el.setAttribute("data-rendered", "1");
    addPngButton(el, chart);
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function sparklineOption(trend, big) {
    return {
      animation: false,
      grid: big ? {left: 40, right: 10, top: 10, bottom: 30} : {left: 2, right: 2, top: 2, bottom: 2},
      xAxis: {type: "category", data: trend.x, show: big},
      yAxis: {type: "value", show: big, minInterval: 1},
      tooltip: {trigger: "axis", formatter: function (items) {
        return items.length ? esc(items[0].axisValue) + ": " + esc(items[0].value) : "";
      }},
      series: [{type: big ? "bar" : "line", data: trend.y, symbol: "none", smooth: !big, areaStyle: big ? null : {opacity: 0.15}}]
    };
  }

  function drawSparkline(el) {
    var trend = JSON.parse(el.getAttribute("data-trend") || '{"x":[],"y":[]}');
    if (!trend.x.length) { el.textContent = "no dated records"; el.classList.add("muted", "small"); return; }
    var big = el.classList.contains("big");
    echarts.init(el, null, {renderer: "svg"}).setOption(sparklineOption(trend, big));
  }

  function init() {
    if (typeof echarts === "undefined") { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
    Array.prototype.forEach.call(document.querySelectorAll(".sparkline[data-trend]"), drawSparkline);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
