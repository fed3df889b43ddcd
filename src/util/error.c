/* Error sentences, generated from the one list in error.h. */
#include <causeway/error.h>

const char *cw_strerror(int err)
{
    switch (err) {
#define CW_ERROR_TEXT_(name, code, text) case CW_##name: return text;
        CW_ERROR_MAP(CW_ERROR_TEXT_)
#undef CW_ERROR_TEXT_
    }
    return "unknown error code";
}
