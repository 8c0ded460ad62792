# bench/plot.gp - throughput and p99 latency per configuration (horizontal
# bars: median; whiskers: min..max over the runs; log scales).
#   gnuplot -e "datafile='bench/out/plot-ID.dat'; outfile='bench/out/results.png'" bench/plot.gp
# Data rows (written by bench/run.sh):
#   "label" msgs_med msgs_min msgs_max p99_med p99_min p99_max

if (!exists("datafile")) datafile = 'bench/out/plot.dat'
if (!exists("outfile")) outfile = 'bench/out/results.png'
if (!exists("title")) title = 'rlog bench'

stats datafile using 2 nooutput
n = STATS_records
# Log axes start at the power of ten below the smallest whisker.
floor10(x) = 10.0 ** floor(log10(x > 1 ? x : 1))
stats datafile using 3 nooutput
rate_min = floor10(STATS_min)
stats datafile using 6 nooutput
p99_min = floor10(STATS_min)

set terminal pngcairo size 1600, (n * 24 + 170) font "sans,10"
set output outfile
set multiplot title title font "sans,13"

set style fill solid 0.65 border -1
set yrange [n - 0.5:-0.5]
set ytics nomirror
set grid xtics mxtics
set logscale x
set tmargin at screen 1.0 - 70.0 / (n * 24 + 170)
set bmargin at screen 60.0 / (n * 24 + 170)
set key off

# Colour by system: rlog, Redis, transport ceiling.
colour(s) = strstrt(s, "rlog") == 1 ? 0x1f77b4 : (strstrt(s, "redis") == 1 ? 0xd62728 : 0x7f7f7f)
half = 0.38

xmin = rate_min
set lmargin at screen 0.30
set rmargin at screen 0.63
set xlabel "messages/s (median, whiskers min..max)"
set xrange [xmin:*]
plot datafile using (sqrt(xmin * $2)):0:(xmin):2:($0 - half):($0 + half):(colour(strcol(1))):ytic(1) \
         with boxxyerror lc rgb variable, \
     '' using 2:0:3:4 with xerrorbars pt 0 lc rgb "black"

xmin = p99_min
set lmargin at screen 0.66
set rmargin at screen 0.98
set ytics format ""
set xlabel "p99 latency, µs (median, whiskers min..max)"
set xrange [xmin:*]
plot datafile using (sqrt(xmin * $5)):0:(xmin):5:($0 - half):($0 + half):(colour(strcol(1))) \
         with boxxyerror lc rgb variable, \
     '' using 5:0:6:7 with xerrorbars pt 0 lc rgb "black"

unset multiplot
