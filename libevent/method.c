// SPDX-License-Identifier: GPL-2.0
/*
 * klab-libevent-method - print the backend a default event_base gets under
 * the current environment (EVENT_NOKEVENT=1, EVENT_NOEPOLL=1, ...), as
 * event_base_get_method() reports it. The guest suites check with it that
 * each run of libevent's regression suite is on the backend it claims.
 */
#include <stdio.h>

#include <event2/event.h>

int main(void)
{
	struct event_base *base = event_base_new();

	if (!base) {
		fprintf(stderr, "event_base_new failed\n");
		return 1;
	}
	printf("%s\n", event_base_get_method(base));
	event_base_free(base);
	return 0;
}
