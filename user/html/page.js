/* page.js: the --html page's zoom and toggles (embedded into the page by html.c); the page
 * shows everything without it */
"use strict";
(function () {
	var NS = "http://www.w3.org/2000/svg";

	/* Timeline charts: drag across to zoom into a time range, double-click to zoom out */
	function niceStep(range, n) {
		var raw = range / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
		return mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
	}
	function timeline(svg) {
		var plot = svg.querySelector("svg.plot"), ticks = svg.querySelector("g.xticks");
		var t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, pw = +svg.dataset.pw;
		var ph = +plot.getAttribute("height"), ml = +plot.getAttribute("x");
		var view = [0, pw], sel = null, from = 0;

		function toPlot(ev) {
			var pt = svg.createSVGPoint(), m = svg.getScreenCTM();
			pt.x = ev.clientX;
			pt.y = ev.clientY;
			var x = pt.matrixTransform(m.inverse()).x - ml;
			return Math.max(0, Math.min(pw, x));
		}
		function show(a, b) {
			view = [a, b];
			plot.setAttribute("viewBox", a + " 0 " + (b - a) + " " + ph);
			while (ticks.firstChild)
				ticks.removeChild(ticks.firstChild);
			var ta = t0 + a / pw * (t1 - t0), tb = t0 + b / pw * (t1 - t0);
			var step = niceStep(tb - ta, 8), digits = Math.max(0, -Math.floor(Math.log10(step)));
			for (var t = Math.ceil(ta / step) * step; t <= tb + 1e-9; t += step) {
				var tx = document.createElementNS(NS, "text");
				tx.setAttribute("class", "xt");
				tx.setAttribute("x", ml + (t - ta) / (tb - ta) * pw);
				tx.setAttribute("y", ticks.dataset.y);
				tx.textContent = t.toFixed(digits) + " s";
				ticks.appendChild(tx);
			}
		}
		svg.addEventListener("mousedown", function (ev) {
			from = toPlot(ev);
			sel = document.createElementNS(NS, "rect");
			sel.setAttribute("class", "sel");
			sel.setAttribute("y", plot.getAttribute("y"));
			sel.setAttribute("height", ph);
			sel.setAttribute("x", ml + from);
			sel.setAttribute("width", 0);
			svg.appendChild(sel);
			ev.preventDefault();
		});
		svg.addEventListener("mousemove", function (ev) {
			if (!sel)
				return;
			var x = toPlot(ev);
			sel.setAttribute("x", ml + Math.min(x, from));
			sel.setAttribute("width", Math.abs(x - from));
		});
		svg.addEventListener("mouseup", function (ev) {
			if (!sel)
				return;
			var x = toPlot(ev), a = Math.min(x, from), b = Math.max(x, from);
			svg.removeChild(sel);
			sel = null;
			if (b - a < 4)
				return;
			var span = view[1] - view[0];
			show(view[0] + a / pw * span, view[0] + b / pw * span);
		});
		svg.addEventListener("dblclick", function () { show(0, pw); });
	}

	/* Legends: a click hides or shows a line */
	function legend(fig) {
		fig.querySelectorAll("ul.legend li").forEach(function (li) {
			li.addEventListener("click", function () {
				var g = fig.querySelector('g.series[data-k="' + li.dataset.k + '"]');
				li.classList.toggle("off");
				if (g)
					g.style.display = li.classList.contains("off") ? "none" : "";
			});
		});
	}

	/* Icicles: a click on a box shows it across the width, its callees below */
	function icicle(svg) {
		var W = +svg.viewBox.baseVal.width, boxes = svg.querySelectorAll("g.box");
		function label(g, w) {
			var name = g.querySelector("title").textContent.replace(/: [^:]*$/, "");
			var fit = Math.floor((w - 6) / 6.5), t = g.querySelector("text");
			t.textContent = w <= 24 ? "" : name.length <= fit ? name :
				fit > 2 ? name.slice(0, fit - 2) + ".." : "";
		}
		function zoom(A, B, D) {
			boxes.forEach(function (g) {
				var a = +g.dataset.a, b = +g.dataset.b, d = +g.dataset.d;
				var r = g.querySelector("rect"), t = g.querySelector("text"), x, w;
				if (d < D ? !(a <= A + 1e-9 && b >= B - 1e-9) : !(a >= A - 1e-9 && b <= B + 1e-9)) {
					g.style.display = "none";
					return;
				}
				if (d < D) {
					x = 0;
					w = W;
				} else {
					x = (a - A) / (B - A) * W;
					w = (b - a) / (B - A) * W;
				}
				g.style.display = "";
				r.setAttribute("x", x);
				r.setAttribute("width", w);
				t.setAttribute("x", x + 3);
				label(g, w);
			});
		}
		boxes.forEach(function (g) {
			g.addEventListener("click", function () {
				zoom(+g.dataset.a, +g.dataset.b, +g.dataset.d);
			});
		});
	}

	document.querySelectorAll("svg.timeline").forEach(timeline);
	document.querySelectorAll("figure.chart").forEach(legend);
	document.querySelectorAll("svg.icicle").forEach(icicle);
})();
