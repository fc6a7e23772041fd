# kilnd --help-config -> the key list of kiln.conf(5), in mdoc.  Every key
# kilnd knows is documented because the page is made from kilnd itself.
function esc(s) {
	gsub(/\\/, "\\e", s)
	if (s ~ /^[.']/) s = "\\&" s
	return s
}
/^\[/ {
	if (open) print ".El"
	name = substr($0, 2, length($0) - 2)
	print ".Ss [" name "]"
	print ".Bl -tag -width Ds"
	open = 1
	next
}
/^# / {
	help = esc(substr($0, 3))
	if (help !~ /\.$/) help = help "."
	next
}
/ = / {
	i = index($0, " = ")
	key = substr($0, 1, i - 1)
	def = substr($0, i + 3)
	print ".It Cm " key
	print help
	if (def == "")
		print "Default: empty."
	else
		print "Default:\n.Ql " esc(def) " ."
}
END { if (open) print ".El" }
