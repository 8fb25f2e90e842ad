# studyplot.awk - the study report's pictures of its figures as SVG, written
# without a plotting stack (as memplot.awk draws the memory plot).
#
#   awk -f pipelines/studyplot.awk -v kind=KIND [-v title=...] [-v a=NAME -v b=NAME] FILE...
#
# kind=scatter      per-class top-1 recall of two models against each other. FILE:
#                   lines class<TAB>name<TAB>support<TAB>recall_a<TAB>recall_b; a and b
#                   name the models.
#                   Classes at the same point share one circle, its area their count;
#                   above the diagonal b does better. The classes farthest from the
#                   diagonal are named.
# kind=hist         how far the second precision moves the first one's top-1
#                   probability. FILE: lines model<TAB>id<TAB>class<TAB>p_a<TAB>p_b
#                   [<TAB>b's name] (p_b empty: the class is not among b's top 5); a
#                   and b name the precisions (a sixth field names b for its panel:
#                   FP16, BF16...). One panel per first field (a model, or a model
#                   and a precision): the images by log10 |p_a - p_b|,
#                   those where a is higher above the axis, b higher below, equal ones
#                   in the bar "0" (differences below 1e-8 in the 1e-8 bar).
# kind=reliability  confidence against accuracy (a reliability diagram). FILE: lines
#                   model<TAB>id<TAB>top-1 probability<TAB>1 if right else 0; 10 bins of
#                   confidence; each model's accuracy in a bin at its mean confidence,
#                   with the images per bin below and the expected calibration error
#                   (ECE: the bins' |accuracy - confidence|, weighted by images) in the
#                   legend.
# A first line starting with "class" or "model" is a header.
# Colours: the first model (or run) blue, the second red, further ones other colours.
BEGIN {
	FS = "\t"
	split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #555555", palette, " ")
	if (kind != "scatter" && kind != "hist" && kind != "reliability") {
		print "studyplot: kind must be scatter, hist or reliability" > "/dev/stderr"
		bad = 1
		exit 2
	}
	if (a == "") a = "A"
	if (b == "") b = "B"
}
function esc(s) {
	gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s)
	return s
}
function model(m) {
	if (!(m in mi)) { mi[m] = ++nm; mname[nm] = m }
	return mi[m]
}
function colour(i) { return palette[i > 6 ? 6 : i] }
function num(x) { return x ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
function svg_open(w, h) {
	printf "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' font-family='sans-serif'>\n", w, h, w, h
	printf "<rect width='100%%' height='100%%' fill='white'/>\n"
	if (title != "") printf "<text x='%d' y='24' font-size='15'>%s</text>\n", 20, esc(title)
}
function text(x, y, s, size, anchor, extra) {
	printf "<text x='%.1f' y='%.1f' font-size='%d'%s%s>%s</text>\n", x, y, size,
		anchor != "" ? " text-anchor='" anchor "'" : "", extra, esc(s)
}
# axes of a unit square (0..1 both ways) at (x0, y0), side s, ticks every 0.2
function unit_axes(x0, y0, s, xt, yt,  t, p) {
	printf "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", x0, y0, s, s
	for (t = 0; t <= 5; t++) {
		p = t / 5 * s
		printf "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#e4e4e4'/>", x0 + p, y0, x0 + p, y0 + s
		printf "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e4e4e4'/>\n", x0, y0 + s - p, x0 + s, y0 + s - p
		text(x0 + p, y0 + s + 15, sprintf("%.1f", t / 5), 11, "middle", "")
		text(x0 - 6, y0 + s - p + 4, sprintf("%.1f", t / 5), 11, "end", "")
	}
	printf "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999' stroke-dasharray='4 3'/>\n", x0, y0 + s, x0 + s, y0
	text(x0 + s / 2, y0 + s + 32, xt, 12, "middle", "")
	text(x0 - 42, y0 + s / 2, yt, 12, "middle", sprintf(" transform='rotate(-90 %.1f %.1f)'", x0 - 42, y0 + s / 2))
}

# ---- input ----
FNR == 1 && ($1 == "class" || $1 == "model") { next } # a header line
kind == "scatter" {
	if (!num($4) || !num($5)) next # a class one model has no image of
	nc++
	ra = $4 + 0; rb = $5 + 0
	key = sprintf("%.4f %.4f", ra, rb)
	if (!(key in cnt)) { pts[++np] = key; px[key] = ra; py[key] = rb }
	cnt[key]++
	if (rb > ra) nb++; else if (ra > rb) na++; else ne++
	if (!(key in first)) first[key] = $2 != "" ? $2 : "class " $1
}
kind == "hist" {
	m = model($1)
	if ($6 != "") bname[m] = $6
	if ($5 == "") { outside[m]++; next }
	d = $4 - $5
	n[m]++; ad = d < 0 ? -d : d; sum[m] += ad
	if (ad > mx[m]) mx[m] = ad
	if (d == 0) { zero[m]++; next }
	e = log(ad) / log(10)
	k = e < LO ? 0 : e >= 0 ? NB - 1 : int((e - LO) / STEP)
	if (d > 0) up[m, k]++; else down[m, k]++
}
kind == "reliability" {
	m = model($1)
	p = $3 + 0; k = int(p * 10); if (k > 9) k = 9; if (k < 0) k = 0
	bn[m, k]++; bc[m, k] += p; br[m, k] += $4; tn[m]++; tc[m] += p; tr[m] += $4
}
BEGIN { LO = -8; STEP = 0.5; NB = int(-LO / STEP) } # hist: 1e-8 .. 1 in half decades

END {
	if (bad) exit 2
	if (kind == "scatter") scatter()
	else if (kind == "hist") hist()
	else reliability()
}

function scatter(  S, x0, y0, H, i, j, k, r, c, d, f, y) {
	S = 460; x0 = 80; y0 = 50; H = y0 + S + 100
	svg_open(S + x0 + 160, H)
	unit_axes(x0, y0, S, a ": top-1 recall per class", b ": top-1 recall per class")
	for (i = 1; i <= np; i++) {
		k = pts[i]; r = 2.5 * sqrt(cnt[k]); if (r > 28) r = 28
		c = py[k] > px[k] ? colour(2) : py[k] < px[k] ? colour(1) : "#777777"
		printf "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='%s' fill-opacity='0.5' stroke='%s'/>\n",
			x0 + px[k] * S, y0 + S - py[k] * S, r, c, c
		if (cnt[k] > 1 && np <= 40)
			text(x0 + px[k] * S, y0 + S - py[k] * S + 4, cnt[k], 11, "middle", "")
	}
	# the 5 points farthest from the diagonal are named (their first class, +N others)
	for (i = 1; i <= np; i++) {
		k = pts[i]; d = px[k] - py[k]; if (d < 0) d = -d
		if (d == 0) continue
		for (j = 1; j <= 5 && (j in far) && fard[j] >= d; j++) {}
		if (j > 5) continue
		for (f = 5; f > j; f--) if ((f - 1) in far) { far[f] = far[f - 1]; fard[f] = fard[f - 1] }
		far[j] = k; fard[j] = d
	}
	for (i = 1; i <= 5 && (i in far); i++) {
		k = far[i]
		text(x0 + px[k] * S + 8, y0 + S - py[k] * S + (py[k] > 0.9 ? 18 : -6) + 12 * (i % 2) * (py[k] > 0.9 ? 1 : -1),
			first[k] (cnt[k] > 1 ? " +" cnt[k] - 1 : ""), 10, "", " fill='#333'")
	}
	y = y0 + S + 50
	text(x0, y, sprintf("%d classes: %s higher on %d, %s higher on %d, equal on %d", nc, a, na, b, nb, ne), 12, "", "")
	text(x0, y + 16, "above the dashed diagonal " b " does better; circle area: classes at that point", 12, "", "")
	if (1 in far) text(x0, y + 32, "named: the classes farthest from the diagonal", 12, "", "")
	print "</svg>"
}

function hist(  PW, PH, x0, y0, bw, m, k, ym, t, h, mid, H, s, bb) {
	PW = 760; PH = 240; x0 = 70; bw = PW / (NB + 2)
	H = 40 + nm * (PH + 90) + 10
	svg_open(PW + x0 + 30, H)
	for (m = 1; m <= nm; m++) {
		y0 = 40 + (m - 1) * (PH + 90); mid = y0 + PH / 2
		ym = zero[m]; bb = (m in bname) ? bname[m] : b
		for (k = 0; k < NB; k++) { if (up[m, k] > ym) ym = up[m, k]; if (down[m, k] > ym) ym = down[m, k] }
		if (ym < 1) ym = 1
		printf "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", x0, y0, PW, PH
		printf "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444'/>\n", x0, mid, x0 + PW, mid
		text(x0 - 6, y0 + 10, ym, 11, "end", ""); text(x0 - 6, mid + 4, 0, 11, "end", "")
		text(x0 - 6, y0 + PH, ym, 11, "end", "")
		text(x0 + 6, y0 + 14, a " higher", 11, "", " fill='" colour(m) "'")
		text(x0 + 6, y0 + PH - 6, bb " higher", 11, "", " fill='" colour(m) "' fill-opacity='0.6'")
		# the bar "0" first, then the half decades
		h = zero[m] / ym * PH / 2
		printf "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#777777'/>\n", x0 + 0.15 * bw, mid - h / 2, 0.7 * bw, h + 0.5
		text(x0 + bw / 2, y0 + PH + 15, "0", 11, "middle", "")
		for (k = 0; k < NB; k++) {
			h = up[m, k] / ym * PH / 2
			if (h > 0) printf "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n", x0 + (k + 2) * bw, mid - h, bw - 1, h, colour(m)
			h = down[m, k] / ym * PH / 2
			if (h > 0) printf "<rect x='%.1f' y='%d' width='%.1f' height='%.1f' fill='%s' fill-opacity='0.6'/>\n", x0 + (k + 2) * bw, mid, bw - 1, h, colour(m)
		}
		for (t = LO; t <= 0; t++)
			text(x0 + (2 + (t - LO) / STEP) * bw, y0 + PH + 15, t == 0 ? "1" : "1e" t, 11, "middle", "")
		text(x0 + PW / 2, y0 + PH + 32, "|" a " - " bb "| of " a "'s top-1 class probability (log scale); images per bar", 12, "middle", "")
		s = sprintf("%s: %d images, %d equal, mean |diff| %.3g, max %.3g", mname[m], n[m], zero[m], n[m] ? sum[m] / n[m] : 0, mx[m])
		if (outside[m]) s = s sprintf("; %d with the class outside %s's top 5 (not counted)", outside[m], bb)
		text(x0, y0 + PH + 52, s, 12, "", " fill='" colour(m) "'")
	}
	print "</svg>"
}

function reliability(  S, x0, y0, CH, m, k, pts, x, y, h, cy, H, s, ece, bwid, ym, d) {
	S = 420; x0 = 80; y0 = 50; CH = 90
	H = y0 + S + 50 + CH + 30 + nm * 18 + 20
	svg_open(S + 2 * x0 + 140, H)
	unit_axes(x0, y0, S, "", "accuracy (top-1)")
	for (m = 1; m <= nm; m++) {
		pts = ""
		for (k = 0; k < 10; k++) {
			if (!bn[m, k]) continue
			x = x0 + bc[m, k] / bn[m, k] * S; y = y0 + S - br[m, k] / bn[m, k] * S
			pts = pts sprintf("%.1f,%.1f ", x, y)
			printf "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>\n", x, y, colour(m)
		}
		if (pts != "") printf "<polyline fill='none' stroke='%s' stroke-width='1.6' points='%s'/>\n", colour(m), pts
	}
	# images per bin, the models side by side
	cy = y0 + S + 40; ym = 1
	for (m = 1; m <= nm; m++) for (k = 0; k < 10; k++) if (bn[m, k] > ym) ym = bn[m, k]
	printf "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", x0, cy, S, CH
	bwid = S / 10 / (nm + 1)
	for (m = 1; m <= nm; m++)
		for (k = 0; k < 10; k++) {
			h = bn[m, k] / ym * CH
			if (h > 0) printf "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n",
				x0 + k * S / 10 + (m - 0.5) * bwid, cy + CH - h, bwid, h, colour(m)
		}
	for (k = 0; k <= 10; k += 2) text(x0 + k / 10 * S, cy + CH + 15, sprintf("%.1f", k / 10), 11, "middle", "")
	text(x0 - 6, cy + 10, ym, 11, "end", ""); text(x0 - 6, cy + CH, 0, 11, "end", "")
	text(x0 + S / 2, cy + CH + 32, "confidence (top-1 probability), 10 bins; below: images per bin", 12, "middle", "")
	text(x0 - 42, cy + CH / 2, "images", 12, "middle", sprintf(" transform='rotate(-90 %.1f %.1f)'", x0 - 42, cy + CH / 2))
	y = cy + CH + 52
	for (m = 1; m <= nm; m++) {
		ece = 0
		for (k = 0; k < 10; k++) if (bn[m, k]) { d = br[m, k] / bn[m, k] - bc[m, k] / bn[m, k]; ece += bn[m, k] / tn[m] * (d < 0 ? -d : d) }
		s = sprintf("%s: %d images, accuracy %.4f, mean confidence %.4f, ECE %.4f", mname[m], tn[m], tr[m] / tn[m], tc[m] / tn[m], ece)
		printf "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/>", x0, y - 4, x0 + 30, y - 4, colour(m)
		text(x0 + 38, y, s, 12, "", "")
		y += 18
	}
	print "</svg>"
}
