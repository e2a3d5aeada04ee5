/*
 * Logging to stderr: "vpcd: <level>: <message>". Level-checked, printf-style.
 */
#ifndef VPCD_CORE_LOG_H
#define VPCD_CORE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)                                                                              \
	do {                                                                                       \
		if (log_threshold >= LOG_WARN)                                                     \
			log_msg(LOG_WARN, __VA_ARGS__);                                            \
	} while (0)
#define log_info(...)                                                                              \
	do {                                                                                       \
		if (log_threshold >= LOG_INFO)                                                     \
			log_msg(LOG_INFO, __VA_ARGS__);                                            \
	} while (0)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_threshold >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
