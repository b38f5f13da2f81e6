"""The words the directory uses for its codes, in one table (issue 20 item 3).

Pure data, no imports from the rest of the project: the rules' explanations (`api.rules`), the
staff pages and exports (`web.templating`'s `label`, `web.staff.diff`), the import files
(`api.services.imports`, which reads these words back) and the public pages (`web.views`) all
take their labels from here, so one status has one name everywhere (an agreement stored as
SUSPENDED is 已中止 in a citizen's explanation, on the staff table and in an export alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: every enum value's label (levels, tiers, agreement statuses, scopes, modes, feedback, guides …)
LABELS: dict[str, str] = {
    "PROVINCE": "省级",
    "CITY": "市级",
    "COUNTY": "县级",
    "TOWN": "乡镇(街道)",
    "VILLAGE": "村(社区)",
    "RED": "红色·重点",
    "GREEN": "绿色·人口",
    "BLUE": "蓝色·合作",
    "YELLOW": "黄色·潜力",
    "DRAFT": "草稿",
    "PENDING": "待生效",
    "ACTIVE": "生效中",
    "SUSPENDED": "已中止",
    "TERMINATED": "已终止",
    "EXPIRED": "已到期",
    "CROSS_PROVINCE": "跨省通办",
    "PROVINCE_WIDE": "全省通办",
    "CITYWIDE": "全市通办",
    "FULL_ONLINE": "全程网办",
    "REMOTE_PROXY": "异地代收代办",
    "MULTI_SITE": "多地联办",
    "CONSULT": "异地咨询",
    "ASSIST": "异地帮办",
    "SEND_RECEIVE": "异地收发件",
    "AID_XINJIANG": "对口援疆",
    "EAST_WEST": "东西部协作",
    "COOPERATION": "对口合作",
    "OPEN": "待响应",
    "RESPONDING": "处理中",
    "RESOLVED": "已解决",
    "ESCALATED": "已上报市级",
    "BEFORE": "通办前",
    "DURING": "通办中",
    "AFTER": "通办后",
    "PUBLISHED": "已发布",
    "ARCHIVED": "已归档",
    "CONSULTATION": "会商",
    "SECONDMENT": "挂职交流",
    "JOINT_TRAINING": "同步培训",
    "SHADOWING": "跟班学习",
    "GUIDANCE": "业务指导",
    "REVIEW": "通办后总结",
}

#: staff roles and feedback channels
ROLE_LABELS: Mapping[str, str] = MappingProxyType(
    {"ADMIN": "市级管理员", "COUNTY": "县(市、区)工作人员", "PARTNER": "合作地区工作人员"}
)
CHANNEL_LABELS: Mapping[str, str] = MappingProxyType(
    {"PUBLIC": "公众", "STAFF": "工作人员", "PARTNER": "合作地区"}
)

#: labels used before the words were unified: an import file that still says them is read as before
FORMER_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "未生效": "PENDING",
        "暂停": "SUSPENDED",
        "终止": "TERMINATED",
    }
)

AGREEMENT_STATUS_WORDS: Mapping[str, str] = MappingProxyType(
    {s: LABELS[s] for s in ("DRAFT", "PENDING", "ACTIVE", "SUSPENDED", "TERMINATED", "EXPIRED")}
)
"""An agreement's status as the rules' explanations name it (the same words as `LABELS`)."""

#: what each way of handling a matter means for the citizen (public results)
MODE_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "FULL_ONLINE": "网上就能办完，不用跑窗口。",
        "REMOTE_PROXY": "在台州窗口交材料，转给户籍地办理，结果可邮寄。",
        "MULTI_SITE": "两地分工：在台州受理，户籍地协同办理。",
    }
)

#: the change log's record types (staff history page)
ENTITY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "agreement": "通办协议",
        "matter": "事项",
        "guide": "办事指南草稿",
        "hall": "服务大厅",
        "contact": "联络人",
        "partner": "合作地区指数",
        "setting": "系统设置",
        "synonym": "同义词",
        "feedback": "问题反馈单",
        "faq": "手册问答",
        "faq-edition": "手册版本",
        "case": "通办案例",
        "outreach": "上门服务",
        "liaison-group": "联络群",
        "relation": "结对关系",
        "user": "账号",
        "token": "接口令牌",
        "session": "登录",
        "activity": "合作交流活动",
    }
)
