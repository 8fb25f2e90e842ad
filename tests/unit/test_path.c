/* test_path.c - common/util/path.c: the one rule for the weights folder
 * ($RNENC_WEIGHTS, else $XDG_CACHE_HOME/rnencode/weights, else
 * $HOME/.cache/rnencode/weights) and for the data folder ($RNENC_DATA, else
 * data/ of the checkout this binary was built in: build/tests/../../data). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"

static void weights(const char *w, const char *xdg, const char *home, const char *want)
{
	w ? setenv("RNENC_WEIGHTS", w, 1) : unsetenv("RNENC_WEIGHTS");
	xdg ? setenv("XDG_CACHE_HOME", xdg, 1) : unsetenv("XDG_CACHE_HOME");
	home ? setenv("HOME", home, 1) : unsetenv("HOME");
	char *p = weights_path("RN50.pt");
	CHECK(strcmp(p, want) == 0, "weights_path: %s, want %s", p, want);
	free(p);
}

int main(void)
{
	weights("/w", "/x", "/h", "/w/RN50.pt");
	weights("", "/x", "/h", "/x/rnencode/weights/RN50.pt"); /* empty: not set */
	weights(NULL, NULL, "/h", "/h/.cache/rnencode/weights/RN50.pt");
	weights(NULL, "", "/h", "/h/.cache/rnencode/weights/RN50.pt");

	char err[512] = "";
	setenv("RNENC_DATA", "/d", 1);
	char *p = data_path("wnids.txt", err, sizeof err);
	CHECK(p && strcmp(p, "/d/wnids.txt") == 0, "$RNENC_DATA: %s", p ? p : err);
	free(p);
	unsetenv("RNENC_DATA");
	p = data_path("wnids.txt", err, sizeof err);
	CHECK(p != NULL, "no data folder found beside the checkout: %s", err);
	/* the checkout's own data/: the file is there */
	CHECK(p && strstr(p, "/data/wnids.txt") && access(p, R_OK) == 0, "checkout data/: %s", p ? p : err);
	free(p);
	return check_report();
}
