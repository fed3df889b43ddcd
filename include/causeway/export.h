/* Symbol visibility for the public API. The library is built with
 * -fvisibility=hidden; only declarations marked CW_API are exported. */
#ifndef CAUSEWAY_EXPORT_H
#define CAUSEWAY_EXPORT_H

#if defined(_WIN32)
#  define CW_API
#elif defined(__GNUC__)
#  define CW_API __attribute__((visibility("default")))
#else
#  define CW_API
#endif

#endif
