# memplot.awk - the study's memory plot as an SVG, written without gnuplot.
#
#   awk -f pipelines/memplot.awk -v title="..." series.tsv > memory.svg
#
# Input lines: label<TAB>seconds<TAB>rss_kib<TAB>gpu_mib, each prefixed with its
# run's label (e.g. "resnet50 fp16"), a label's lines in time order. A line with
# rss_kib is a host sample (study-run --mem); a line with gpu_mib is a point of
# the GPU timeline (rnencode --mem-trace); a line with neither only names a run.
# One panel shows host memory (resident set, MiB) against time, a second one the
# GPU memory when any line has it. Each run is one polyline per panel: colour by
# model (the label's first word), a dash pattern by precision (the label's second
# word: fp32 solid, fp16 dashed, bf16 dotted, int8 and tf32 their own);
# the legend gives each run's peaks. A run with no samples says so.
BEGIN { FS = "\t"; W = 900; PH = 300; ML = 70; MR = 20; MT = 40; GAP = 60; LEG = 22 }
{
	lab = $1
	if (!(lab in seen)) { seen[lab] = 1; order[++nl] = lab }
	if ($3 != "") {
		n = ++cnt["r", lab]; t["r", lab, n] = $2 + 0; v["r", lab, n] = $3 / 1024
		if ($2 + 0 > tmax["r"]) tmax["r"] = $2 + 0
		if (v["r", lab, n] > peak["r", lab]) peak["r", lab] = v["r", lab, n]
		if (v["r", lab, n] > vmax["r"]) vmax["r"] = v["r", lab, n]
	}
	if ($4 != "") {
		n = ++cnt["g", lab]; t["g", lab, n] = $2 + 0; v["g", lab, n] = $4 + 0; anyg = 1
		if ($2 + 0 > tmax["g"]) tmax["g"] = $2 + 0
		if (v["g", lab, n] > peak["g", lab]) peak["g", lab] = v["g", lab, n]
		if (v["g", lab, n] > vmax["g"]) vmax["g"] = v["g", lab, n]
	}
}
function nice(x,  e, f) {
	if (x <= 0) return 1
	e = 10 ^ int(log(x) / log(10) - (x < 1 ? 1 : 0))
	f = x / e
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e
}
function esc(s) {
	gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s)
	return s
}
function colour(lab,  m) {
	m = lab; sub(/ .*/, "", m)
	if (!(m in col)) col[m] = palette[++ncol > 6 ? 6 : ncol]
	return col[m]
}
function dash(lab,  p) {
	p = lab; sub(/^[^ ]* /, "", p); sub(/ .*/, "", p)
	return p == "fp16" ? " stroke-dasharray='6 3'" : p == "bf16" ? " stroke-dasharray='2 3'" : \
		p == "int8" ? " stroke-dasharray='10 3 2 3'" : p == "tf32" ? " stroke-dasharray='1 2'" : ""
}
# one panel at top y0 for series k ("r" host, "g" GPU)
function panel(y0, k, ytitle, xtitle,  w, tstep, ystep, tm, ym, x, y, s, i, j, lab, pts) {
	w = W - ML - MR
	tstep = nice(tmax[k] / 8); ystep = nice(vmax[k] / 5)
	tm = tstep * int(tmax[k] / tstep + 0.999999); if (tm <= 0) tm = tstep
	ym = ystep * int(vmax[k] / ystep + 0.999999); if (ym <= 0) ym = ystep
	printf "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", ML, y0, w, PH
	for (s = 0; s <= ym + ystep / 2; s += ystep) {
		y = y0 + PH - s / ym * PH
		printf "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e4e4e4'/>", ML, y, ML + w, y
		printf "<text x='%d' y='%.1f' text-anchor='end' font-size='11'>%g</text>\n", ML - 6, y + 4, s
	}
	for (s = 0; s <= tm + tstep / 2; s += tstep) {
		x = ML + s / tm * w
		printf "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#e4e4e4'/>", x, y0, x, y0 + PH
		printf "<text x='%.1f' y='%d' text-anchor='middle' font-size='11'>%g</text>\n", x, y0 + PH + 15, s
	}
	printf "<text x='%d' y='%d' text-anchor='middle' font-size='12'>%s</text>\n", ML + w / 2, y0 + PH + 32, xtitle
	printf "<text x='14' y='%d' font-size='12' transform='rotate(-90 14 %d)' text-anchor='middle'>%s</text>\n",
		y0 + PH / 2, y0 + PH / 2, ytitle
	for (j = 1; j <= nl; j++) {
		lab = order[j]; pts = ""
		for (i = 1; i <= cnt[k, lab]; i++)
			pts = pts sprintf("%.1f,%.1f ", ML + t[k, lab, i] / tm * w, y0 + PH - v[k, lab, i] / ym * PH)
		if (pts != "")
			printf "<polyline fill='none' stroke='%s' stroke-width='1.6'%s points='%s'/>\n", colour(lab), dash(lab), pts
	}
}
END {
	split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #555555", palette, " ")
	np = anyg ? 2 : 1
	H = MT + np * (PH + GAP) + nl * LEG + 20
	printf "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' font-family='sans-serif'>\n", W, H, W, H
	printf "<rect width='100%%' height='100%%' fill='white'/>\n"
	printf "<text x='%d' y='24' font-size='15'>%s</text>\n", ML, esc(title)
	panel(MT, "r", "host memory, resident set (MiB)", "seconds since the stage started")
	if (anyg) panel(MT + PH + GAP, "g", "GPU memory held by rnencode (MiB)", "seconds since the encoder was created")
	y = MT + np * (PH + GAP) + 4
	for (j = 1; j <= nl; j++) {
		lab = order[j]
		printf "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'%s/>", ML, y, ML + 40, y, colour(lab), dash(lab)
		if (cnt["r", lab])
			s = sprintf("%s: peak %.1f MiB resident (%d samples over %.1f s)", lab, peak["r", lab], cnt["r", lab],
				t["r", lab, cnt["r", lab]])
		else
			s = lab ": no host samples"
		if (cnt["g", lab])
			s = s sprintf(", peak %.1f MiB on the GPU", peak["g", lab])
		printf "<text x='%d' y='%d' font-size='12'>%s</text>\n", ML + 50, y + 4, esc(s)
		y += LEG
	}
	print "</svg>"
}
