# shellcheck shell=bash
# pipelines/stage.sh - what the study's stage runners share (sourced by study-run and
# encode-shard, not run on its own).
#
#   stage_now_us                       microseconds since the epoch
#   stage_rss PID                      PID's resident set in KiB (VmRSS), nothing once it is gone
#   stage_sample FILE PID START_US     append "seconds<TAB>rss_kib" to FILE: one memory sample,
#                                      seconds since START_US (the study's .mem.tsv lines)
#   stage_log LOG NAME START_US ST     append the stage log line "time<TAB>ran<TAB>NAME<TAB>
#                                      seconds<TAB>status" (status "failed N" for N > 1) and
#                                      set STAGE_SECS to the seconds, as "S.mmm"

stage_now_us() { echo "${EPOCHREALTIME/./}"; }

stage_rss() {
	local key val _
	while read -r key val _; do
		[ "$key" = VmRSS: ] && echo "$val" && return
	done <"/proc/$1/status" 2>/dev/null
}

stage_sample() {
	local rss t
	rss=$(stage_rss "$2")
	[ -n "$rss" ] || return 0
	t=$(($(stage_now_us) - $3))
	printf '%d.%06d\t%s\n' $((t / 1000000)) $((t % 1000000)) "$rss" >>"$1"
}

stage_log() {
	local ms=$((($(stage_now_us) - $3) / 1000)) st=$4
	STAGE_SECS=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	[ "$st" -gt 1 ] && st="failed $st"
	printf '%s\tran\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" "$STAGE_SECS" "$st" >>"$1"
}
